"""The `visionpipe` command: run the pipeline, make demo data."""

import os

# Must precede every TensorFlow import: TFX 1.16 needs tf.keras to be Keras 2 (tf-keras).
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hides CUDA plugin noise on CPU machines

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

EXIT_FAILED = 1
EXIT_NOT_BLESSED = 3


def _failed(error: object) -> int:
    """Prints a one-line error the way every command does and returns the failure exit code."""
    print(f"visionpipe: error: {error}", file=sys.stderr)
    return EXIT_FAILED


def _add_run_arguments(parser: argparse.ArgumentParser, local: bool = True) -> None:
    from components.trainer.models import MODELS
    from components.trainer.models.transfer import BASES, MOBILENET_V2_ALPHAS
    from pipeline.config import DEFAULT_BEAM_ARGS, PipelineConfig

    defaults = PipelineConfig(data="")
    parser.add_argument("--data", required=True,
                        help="folder with one sub-folder of images per class (optionally "
                             "inside train/ and eval/ or validation/ or test/), or with "
                             "--data-format csv a CSV of pixel rows (.csv or .csv.gz)")
    parser.add_argument("--data-format", choices=("folder", "csv"), default=defaults.data_format)
    parser.add_argument("--eval-data", default=None,
                        help="CSV only: a separate CSV for the eval split (e.g. the test CSV)")
    parser.add_argument("--image-shape", default="28x28x1",
                        help="CSV only: the pixel layout of a row, HxWxC (default 28x28x1)")
    parser.add_argument("--name", default=defaults.name, help="model name (names the run folder "
                        "and the TF Serving model)")
    if local:
        parser.add_argument("--output", default=defaults.output,
                            help="output folder: <output>/<name>/ for the run, "
                                 "<output>/serving/<name>/<version>/ for pushed models")
    parser.add_argument("--model", default=defaults.model, choices=sorted(MODELS),
                        help="trainer module: " + "; ".join(
                            f"{name}: {module.description}" for name, module in MODELS.items()))
    parser.add_argument("--image-size", type=int, default=None,
                        help=f"images are resized to SIZE x SIZE (default {defaults.image_size}; "
                             "CSV: the rows' own size)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=None,
                        help="3 for RGB, 1 for grey (default 3; CSV: the rows' channels)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: the course's rate for the model (1e-3; 1e-4 for "
                             "augmented and transfer)")
    parser.add_argument("--optimizer", default=defaults.optimizer,
                        help="any tf-keras optimizer name (rmsprop, adam, sgd, ...)")
    parser.add_argument("--patience", type=int, default=defaults.early_stopping_patience,
                        help="early stopping: epochs without a better validation loss")
    parser.add_argument("--dropout", type=float, default=None,
                        help="dropout rate of the model's head (default: the course's value)")
    augment = parser.add_argument_group("augmentation (training images only, fresh every epoch)")
    augment.add_argument("--augment", dest="augment", action="store_true", default=None,
                         help="augment training images (default: on for augmented/multiclass)")
    augment.add_argument("--no-augment", dest="augment", action="store_false")
    aug = defaults.augmentation
    augment.add_argument("--rotation", type=float, default=aug.rotation, help="degrees, +/-")
    augment.add_argument("--width-shift", type=float, default=aug.width_shift)
    augment.add_argument("--height-shift", type=float, default=aug.height_shift)
    augment.add_argument("--shear", type=float, default=aug.shear, help="degrees, as in Keras")
    augment.add_argument("--zoom", type=float, default=aug.zoom)
    augment.add_argument("--no-horizontal-flip", dest="horizontal_flip", action="store_false")
    augment.add_argument("--vertical-flip", action="store_true")
    augment.add_argument("--brightness", type=float, default=aug.brightness,
                         help="multiply by U(1-b, 1+b)")
    augment.add_argument("--contrast", type=float, default=aug.contrast)
    transfer = parser.add_argument_group("transfer learning (--model transfer)")
    transfer.add_argument("--base", choices=sorted(BASES), default=defaults.base)
    transfer.add_argument("--weights", default=defaults.weights,
                          help="imagenet (downloaded by Keras), none, or a local weights .h5")
    transfer.add_argument("--alpha", type=float, default=defaults.alpha,
                          help=f"MobileNetV2 width multiplier {MOBILENET_V2_ALPHAS}")
    transfer.add_argument("--cut-layer", default=None,
                          help="cut the base at this layer (default: mixed7 for inception_v3)")
    transfer.add_argument("--fine-tune-layers", type=float, default=defaults.fine_tune_layers,
                          help="then unfreeze the top N layers of the base (or a fraction < 1)")
    transfer.add_argument("--fine-tune-epochs", type=int, default=defaults.fine_tune_epochs)
    transfer.add_argument("--fine-tune-learning-rate", type=float,
                          default=defaults.fine_tune_learning_rate)
    parser.add_argument("--tune", nargs="?", const="random", choices=("random", "bayesian"),
                        default=None, help="search learning rate, dropout and batch size "
                        "with the TFX Tuner first (random search, or bayesian)")
    parser.add_argument("--tune-trials", type=int, default=defaults.tune_trials)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="cap the training steps per epoch (default: one pass over the data)")
    parser.add_argument("--split-ratio", type=float, default=defaults.train_fraction,
                        help="fraction of images for training when the data has no split folders")
    parser.add_argument("--min-accuracy", type=float, default=defaults.min_accuracy,
                        help="the Evaluator blesses (and the Pusher pushes) only at or above this")
    parser.add_argument("--no-baseline", action="store_true",
                        help="bless on --min-accuracy alone, without comparing to the latest "
                             "blessed model (no resolver node; for open-source KFP, see README)")
    parser.add_argument("--schema", default=None,
                        help="a curated schema .pbtxt to validate against (default: infer one)")
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                        help="images declaring more pixels are quarantined without decoding")
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                        help="extra Beam pipeline argument, repeatable, e.g. "
                             "--beam-arg=--direct_num_workers=2")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run every component even when its inputs did not change")
    parser.set_defaults(default_beam_args=DEFAULT_BEAM_ARGS)


def _config_from(args: argparse.Namespace):
    from components.image_example_gen.csv_source import parse_shape
    from components.trainer.hparams import Augmentation
    from pipeline.config import PipelineConfig

    defaults = PipelineConfig(data="")
    shape = parse_shape(args.image_shape)
    csv = args.data_format == "csv"
    image_size = args.image_size or (max(shape[:2]) if csv else defaults.image_size)
    channels = args.channels or (shape[2] if csv else defaults.channels)
    augmentation = Augmentation(
        rotation=args.rotation, width_shift=args.width_shift, height_shift=args.height_shift,
        shear=args.shear, zoom=args.zoom, horizontal_flip=args.horizontal_flip,
        vertical_flip=args.vertical_flip, brightness=args.brightness, contrast=args.contrast,
    )
    return PipelineConfig(
        data=args.data, name=args.name, output=args.output, data_format=args.data_format,
        eval_data=args.eval_data, image_shape=shape, model=args.model,
        dropout=args.dropout, augment=args.augment, augmentation=augmentation, base=args.base,
        weights=args.weights, alpha=args.alpha, cut_layer=args.cut_layer,
        fine_tune_layers=args.fine_tune_layers, fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_learning_rate=args.fine_tune_learning_rate, tune=args.tune,
        tune_trials=args.tune_trials,
        image_size=image_size, channels=channels, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, optimizer=args.optimizer,
        early_stopping_patience=args.patience, steps_per_epoch=args.steps_per_epoch,
        train_fraction=args.split_ratio, min_accuracy=args.min_accuracy, schema=args.schema,
        max_pixels=args.max_pixels, beam_args=(*args.default_beam_args, *args.beam_arg),
        compare_to_baseline=not args.no_baseline,
        enable_cache=not args.no_cache,
    )


def _run(args: argparse.Namespace) -> int:
    from pipeline.local_runner import RunFailed, run_pipeline
    from pipeline.summary import format_table

    try:
        config = _config_from(args)
        summary = run_pipeline(config)
    except (RunFailed, ValueError) as error:
        return _failed(error)
    print(format_table(summary))
    print(f"Report: {summary['report']}")
    if summary.get("pushed_to"):
        print(f"Pushed model: {summary['pushed_to']}")
        return 0
    reasons = "; ".join(summary.get("failed_thresholds", [])) or "see the summary"
    print(f"visionpipe: model not blessed, nothing pushed ({reasons})", file=sys.stderr)
    return EXIT_NOT_BLESSED


def _demo_data(args: argparse.Namespace) -> int:
    from pipeline.demo_data import make_demo_data

    root = make_demo_data(args.dir, images_per_class=args.images_per_class, seed=args.seed)
    print(f"Demo data written to {root}")
    return 0


def _schema_export(args: argparse.Namespace) -> int:
    from pipeline.schema_export import export_schema

    try:
        source = export_schema(args.run_dir, args.output)
    except FileNotFoundError as error:
        return _failed(error)
    print(f"Wrote {args.output} (from {source}); curate it, then pass it with --schema")
    return 0


def _kubeflow_options(args: argparse.Namespace):
    from pipeline.kubeflow_v2_runner import KubeflowOptions

    node_selector = dict(pair.split("=", 1) for pair in args.node_selector)
    tolerations = []
    for text in args.toleration:
        key, _, rest = text.partition("=")
        value, _, effect = rest.partition(":")
        toleration = {"key": key, "operator": "Equal" if value else "Exists"}
        if value:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        tolerations.append(toleration)
    return KubeflowOptions(
        image=args.image, pipeline_root=args.pipeline_root, gpu_type=args.gpu_type,
        gpus=args.gpus, cpu_limit=args.cpu_limit, memory_limit=args.memory_limit,
        node_selector=node_selector, tolerations=tuple(tolerations), beam_runner=args.beam_runner,
        beam_args=tuple(args.beam_arg))


def _compile(args: argparse.Namespace) -> int:
    from pipeline.data_layout import DataError, DataLayout, inspect_data
    from pipeline.kubeflow_v2_runner import compile_pipeline

    args.output = args.serving_output or args.pipeline_root
    args.default_beam_args = ()
    try:
        config = _config_from(args)
        if args.class_names:
            layout = DataLayout(args.data, args.class_names.split(","))
        else:
            layout = inspect_data(config.data, config.data_format, config.eval_data)
        path = compile_pipeline(config, layout, _kubeflow_options(args), args.compiled)
    except (DataError, ValueError, OSError) as error:
        return _failed(error)
    print(f"Compiled {path} (image {args.image}, pipeline root {args.pipeline_root})")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from pipeline.kubeflow_submit import parse_params, submit

    try:
        submitted = submit(args.package, args.host, namespace=args.namespace,
                           experiment=args.experiment, schedule=args.schedule,
                           params=parse_params(args.param), run_name=args.run_name,
                           token=args.token, cookies=args.cookies)
    except (ValueError, OSError) as error:
        return _failed(error)
    except Exception as error:  # noqa: BLE001 - the KFP API's errors, as one line
        return _failed(f"Kubeflow Pipelines at {args.host}: {error}".splitlines()[0])
    print(f"Created {submitted.kind} {submitted.id}: {submitted.url}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pipeline.report import render_report

    try:
        path = render_report(args.run_dir)
    except FileNotFoundError as error:
        return _failed(error)
    print(f"Wrote {path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from serving.server import serve

    try:
        return serve(args.model_name, args.model_base_path, args.rest_port, args.grpc_port,
                     args.host, max_request_bytes=args.max_request_bytes,
                     enable_batching=args.enable_batching)
    except (ValueError, OSError, TimeoutError) as error:
        return _failed(error)


def _predict(args: argparse.Namespace) -> int:
    from serving.client import format_answers, predict_grpc, predict_rest, upright_bytes

    answers = []
    for image in args.images:
        try:
            with open(image, "rb") as f:
                data = upright_bytes(f.read())
            if args.grpc:
                answers.append(predict_grpc(args.grpc, args.model, image, data, args.top_k))
            else:
                answers.append(predict_rest(args.server, args.model, image, data, args.top_k))
        except (OSError, RuntimeError) as error:
            return _failed(error)
    print(format_answers(answers))
    return 0


def _serving_config(args: argparse.Namespace) -> int:
    from serving.config_files import ServingSetup, write_serving_config

    try:
        setup = ServingSetup(args.model_name, args.model_base_path, namespace=args.namespace)
    except ValueError as error:
        return _failed(error)
    for path in write_serving_config(setup, args.output):
        print(f"Wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser, one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="visionpipe", description="Image classification pipeline on TFX."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole pipeline locally")
    _add_run_arguments(run)
    run.set_defaults(handler=_run)
    demo = commands.add_parser("demo-data", help="write the built-in demo image folders")
    demo.add_argument("dir")
    demo.add_argument("--images-per-class", type=int, default=300)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo_data)
    compile_ = commands.add_parser(
        "compile", help="compile the pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner)")
    _add_run_arguments(compile_, local=False)
    compile_.add_argument("--output", dest="compiled", required=True,
                          help="pipeline.json (PipelineJob) or pipeline.yaml (PipelineSpec + "
                               "Kubernetes platform spec, for open-source KFP)")
    compile_.add_argument("--image", required=True, help="the image with this project installed")
    compile_.add_argument("--pipeline-root", required=True, help="gs://, s3:// or a mounted path")
    compile_.add_argument("--serving-output", default=None,
                          help="models are pushed to <this>/serving/<name>/ "
                               "(default: the pipeline root)")
    compile_.add_argument("--class-names", default=None,
                          help="comma-separated class names, when --data cannot be listed here")
    compile_.add_argument("--gpu-type", default=None, help="e.g. nvidia.com/gpu")
    compile_.add_argument("--gpus", type=int, default=0, help="GPUs for the Trainer (and Tuner)")
    compile_.add_argument("--cpu-limit", type=float, default=4.0)
    compile_.add_argument("--memory-limit", type=float, default=16.0, help="GB")
    compile_.add_argument("--node-selector", action="append", default=[], metavar="KEY=VALUE",
                          help="node selector for the GPU tasks, repeatable")
    compile_.add_argument("--toleration", action="append", default=[],
                          metavar="KEY[=VALUE][:EFFECT]", help="toleration for the GPU tasks")
    compile_.add_argument("--beam-runner", default="FnApiRunner",
                          help="DataflowRunner, FlinkRunner or SparkRunner for big data "
                               "(pass their options with --beam-arg)")
    compile_.set_defaults(handler=_compile)
    submit = commands.add_parser("submit", help="run a compiled pipeline on Kubeflow Pipelines")
    submit.add_argument("package", help="the compiled pipeline.yaml or pipeline.json")
    submit.add_argument("--host", required=True, help="the KFP API endpoint URL")
    submit.add_argument("--namespace", default=None)
    submit.add_argument("--experiment", default="visionpipe")
    submit.add_argument("--run-name", default=None)
    submit.add_argument("--schedule", default=None, metavar="CRON",
                        help='a recurring run on this cron schedule, e.g. "0 3 * * *"')
    submit.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="pipeline parameter, e.g. data_root=gs://bucket/images")
    submit.add_argument("--token", default=None, help="bearer token (kfp existing_token)")
    submit.add_argument("--cookies", default=None, help="cookies for an authenticated endpoint")
    submit.set_defaults(handler=_submit)
    report = commands.add_parser("report", help="re-render a run's report.html")
    report.add_argument("run_dir", help="the run folder, <output>/<name>")
    report.set_defaults(handler=_report)
    serve = commands.add_parser(
        "serve", help="serve pushed models over TF Serving's REST and gRPC APIs "
        "(tensorflow_model_server when installed, else a local server)")
    serve.add_argument("--model-base-path", required=True,
                       help="the Pusher's output, <output>/serving/<name>")
    serve.add_argument("--model-name", required=True)
    serve.add_argument("--rest-port", type=int, default=8501)
    serve.add_argument("--grpc-port", type=int, default=8500)
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to bind (default: this machine only)")
    serve.add_argument("--max-request-bytes", type=int, default=32 * 1024 * 1024)
    serve.add_argument("--enable-batching", action="store_true",
                       help="server-side batching: concurrent requests share one model call")
    serve.set_defaults(handler=_serve)
    predict = commands.add_parser("predict", help="classify images with a served model")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--server", default="localhost:8501", help="REST host:port")
    predict.add_argument("--grpc", default=None, metavar="HOST:PORT",
                         help="use gRPC at HOST:PORT instead of REST")
    predict.add_argument("--model", default="visionpipe", help="the served model's name")
    predict.add_argument("--top-k", type=int, default=3)
    predict.set_defaults(handler=_predict)
    serving_config = commands.add_parser(
        "serving-config", help="write TF Serving configs and Kubernetes manifests")
    serving_config.add_argument("--model-name", required=True)
    serving_config.add_argument("--model-base-path", required=True,
                                help="gs://, s3:// or a local path (served from a volume)")
    serving_config.add_argument("--namespace", default="default")
    serving_config.add_argument("--output", required=True, help="output folder")
    serving_config.set_defaults(handler=_serving_config)
    schema = commands.add_parser("schema", help="work with curated schemas")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser(
        "export", help="write a run's inferred schema as the starting point for curation")
    export.add_argument("run_dir", help="the run folder, <output>/<name>")
    export.add_argument("--output", required=True, help="where to write the .pbtxt")
    export.set_defaults(handler=_schema_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the visionpipe console script."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # google-cloud on Python 3.10
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
