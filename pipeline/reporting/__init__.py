"""What a run reports: console progress, summary.json and its table, report.html."""
