"""The pipeline's DAG, wiring only: ExampleGen -> ... -> Pusher.

The same create_pipeline is run by the local runner and compiled for Kubeflow.
"""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.utils import proto_utils

from components.anomaly_gate.component import AnomalyGate
from components.data_review.component import DataReview, review_config
from components.evaluator.component import ServedBaselineEvaluator
from components.evaluator.eval_config import eval_config
from components.image_example_gen.component import ImageExampleGen, input_config
from components.image_example_gen.layout import TRAIN, VALIDATION, DataLayout
from components.kfp.data_fingerprint import DataFingerprint
from components.pusher.component import AtomicPusher
from components.schema_gen.component import SchemaGen
from components.statistics_gen.component import StatisticsGen
from components.trainer.tuning import TUNING_KEY
from pipeline.config import PipelineConfig

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run_fn.run_fn"
TUNER_FN = "components.trainer.tuning.tuner_fn"


def create_pipeline(
    config: PipelineConfig,
    layout: DataLayout,
    metadata_connection_config=None,
    input_base: str | tfx.dsl.experimental.RuntimeParameter | None = None,
    fingerprint_task: bool = False,
) -> tfx.dsl.Pipeline:
    """The TFX pipeline for one data set; the layout's class names fix label ids and metrics.

    input_base: where ExampleGen reads, default the layout's; Kubeflow passes a runtime
    parameter so a run can point at another folder of the same classes.
    fingerprint_task: a DataFingerprint task before the ExampleGen, whose output enters the
    ExampleGen's cache key (Kubeflow; the local runner's driver fingerprints the data itself).
    """
    class_names = layout.class_names
    fingerprint = None
    if fingerprint_task:
        fingerprint = DataFingerprint(input_base=input_base or layout.input_base,
                                      input_config=proto_utils.proto_to_json(
                                          input_config(layout.inputs)))
    example_gen = ImageExampleGen(
        input_base=input_base or layout.input_base,
        inputs=layout.inputs,
        options=config.ingest_options(class_names),
        data_fingerprint=(fingerprint.outputs["fingerprint"].future()[0].value
                          if fingerprint else None),
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    if config.schema:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema)
    else:
        schema_gen = SchemaGen(  # TFX's, with drift comparators on the image measures
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
        )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"],
                               statistics=statistics_gen.outputs["statistics"],
                               schema=schema_gen.outputs["schema"],
                               accepted_statistics_dir=config.accepted_statistics_dir,
                               on_drift=config.on_drift)

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=config.image.to_custom_config(),
        # Float images on disk would be many times the encoded bytes (tfx#2207): the
        # Trainer applies the transform graph in its tf.data input instead.
        materialize=False,
        disable_statistics=True,
    )
    transform.add_upstream_node(anomaly_gate)

    # Label errors, outliers and near-copies found (and shown) before training starts.
    data_review = DataReview(examples=example_gen.outputs["examples"],
                             config=review_config(config.training, config.image,
                                                  config.label_issues))

    training_config = {**config.training.to_custom_config(), **config.image.to_custom_config()}
    tuner = None
    if config.tune:
        tuner = tfx.components.Tuner(
            tuner_fn=TUNER_FN,
            examples=example_gen.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=tfx.proto.TrainArgs(splits=[TRAIN]),
            eval_args=tfx.proto.EvalArgs(splits=[VALIDATION]),
            custom_config={**training_config,
                           TUNING_KEY: {"tuner": config.tune, "trials": config.tune_trials}},
        )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        # Validation drives early stopping; the test split is never shown to the Trainer.
        train_args=tfx.proto.TrainArgs(splits=[TRAIN]),
        eval_args=tfx.proto.EvalArgs(splits=[VALIDATION]),
        custom_config=training_config,
    )
    trainer.add_upstream_node(data_review)
    evaluator = ServedBaselineEvaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config(class_names, config.min_accuracy, config.min_class_recall,
                                config.max_class_drop, config.compare_to_baseline),
        # The test split decides the blessing (validation only when there is no test split).
        example_splits=[layout.blessing_split],
        # No regression against the model being served, resolved when the Evaluator runs.
        serving_base_path=config.serving_model_dir if config.compare_to_baseline else "",
    ).with_id("Evaluator")
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.serving_model_dir
            )
        ),
        custom_config=config.image.to_custom_config(),
    ).with_id("Pusher")
    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.pipeline_root,
        components=[
            *([fingerprint] if fingerprint else []), example_gen, statistics_gen, schema_gen,
            example_validator, anomaly_gate, data_review, transform, *([tuner] if tuner else []),
            trainer,
            evaluator, pusher,
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.pipeline_beam_args),
    )
