"""AnomalyGate: stops (or warns on) what the ExampleValidator found."""
