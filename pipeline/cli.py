"""The `visionpipe` command.

  run             run the whole pipeline locally (TFX LocalDagRunner on Beam)
  inspect         what a run would ingest: layout, classes, splits, quarantine, duplicates
  demo-data       write the built-in demo image folders
  compile         compile the pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner)
  submit          run a compiled pipeline on Kubeflow Pipelines, once or on a cron schedule
  kfp-local       execute a compiled pipeline here, every task as a KFP pod runs it
  report          re-render a run's report.html
  serve           serve pushed models over TF Serving's REST and gRPC APIs
  predict         classify images with a served model
  serving-config  write TF Serving configs and Kubernetes manifests
  schema export   write a run's inferred schema as the starting point for curation

One vocabulary across commands: `--name` is the model's name (the run folder and the TF
Serving model), `--model` the trainer module, `--output` always a folder; files are
named by what they hold (`--package`, `--schema`).
"""

import os

# Must precede every TensorFlow import: TFX 1.16 needs tf.keras to be Keras 2 (tf-keras).
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hides CUDA plugin noise on CPU machines

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

EXIT_FAILED = 1
EXIT_NOT_BLESSED = 3
MODEL_NAME_HELP = "the model's name (as given to `visionpipe run --name`)"


def _failed(error: object) -> int:
    """Prints a one-line error the way every command does and returns the failure exit code."""
    print(f"visionpipe: error: {error}", file=sys.stderr)
    return EXIT_FAILED


class _FileNotFolder(argparse.Action):
    """An old spelling that named a file: stop with the flag that names it now."""

    def __init__(self, option_strings, dest, instead: str, **kwargs):
        self.instead = instead
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is a folder in every command; give the file with "
                     f"{self.instead}")


def _config_from(args: argparse.Namespace):
    from pipeline.config import PipelineConfig
    from pipeline.flags import settings_from

    return settings_from(args, PipelineConfig)


def _run(args: argparse.Namespace) -> int:
    from pipeline.local_runner import RunFailed, run_pipeline
    from pipeline.summary import format_table

    try:
        summary = run_pipeline(_config_from(args))
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


def _inspect(args: argparse.Namespace) -> int:
    import json

    from pipeline.data_layout import DataError
    from pipeline.inspection import format_inspection, inspect_dataset

    try:
        facts = inspect_dataset(_config_from(args), progress=not args.json)
    except (DataError, ValueError, OSError) as error:
        return _failed(error)
    print(json.dumps(facts, indent=2) if args.json else format_inspection(facts))
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from pipeline.demo_data import make_demo_data

    root = make_demo_data(args.dir, images_per_class=args.images_per_class, seed=args.seed)
    print(f"Demo data written to {root}")
    return 0


def _schema_export(args: argparse.Namespace) -> int:
    from pipeline.schema_export import export_schema

    try:
        source = export_schema(args.run_dir, args.schema)
    except FileNotFoundError as error:
        return _failed(error)
    print(f"Wrote {args.schema} (from {source}); curate it, then pass it with --schema")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from pipeline.data_layout import DataError, DataLayout, inspect_data
    from pipeline.flags import settings_from
    from pipeline.kubeflow_options import PACKAGE_EXTENSIONS, KubeflowOptions
    from pipeline.kubeflow_v2_runner import compile_pipeline

    if args.output and args.output.endswith(PACKAGE_EXTENSIONS):
        return _failed(f"--output {args.output} is the folder models are pushed under; "
                       "write the compiled pipeline with --package FILE")
    try:
        options = settings_from(args, KubeflowOptions)
        # Models are pushed below <--output or the pipeline root>/serving/<name>/.
        config = dataclasses.replace(_config_from(args),
                                     output=args.output or options.pipeline_root)
        if args.class_names:
            layout = DataLayout(config.data, args.class_names.split(","))
        else:
            layout = inspect_data(config)
        path = compile_pipeline(config, layout, options, args.package)
    except (DataError, ValueError, OSError) as error:
        return _failed(error)
    print(f"Compiled {path} (image {options.image}, pipeline root {options.pipeline_root})")
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


def _kfp_local(args: argparse.Namespace) -> int:
    from pipeline.kfp_local import TaskFailed, execute, load_pipeline_spec, pushed_destination
    from pipeline.kubeflow_submit import parse_params

    try:
        root = args.pipeline_root or load_pipeline_spec(args.package).get("defaultPipelineRoot")
        if not root:
            raise ValueError(f"{args.package} names no pipeline root: give --pipeline-root")
        runs = execute(args.package, root, parse_params(args.param),
                       on_task=lambda line: print(f"[visionpipe] {line}", flush=True))
    except (TaskFailed, ValueError, OSError) as error:
        return _failed(error)
    pushed = pushed_destination(runs)
    if pushed:
        print(f"Pushed model: {pushed}")
        return 0
    print("visionpipe: model not blessed, nothing pushed", file=sys.stderr)
    return EXIT_NOT_BLESSED


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
        return serve(args.name, args.model_base_path, args.rest_port, args.grpc_port,
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
                answers.append(predict_grpc(args.grpc, args.name, image, data, args.top_k))
            else:
                answers.append(predict_rest(args.server, args.name, image, data, args.top_k))
        except (OSError, RuntimeError) as error:
            return _failed(error)
    print(format_answers(answers))
    return 0


def _serving_config(args: argparse.Namespace) -> int:
    from serving.config_files import ServingSetup, write_serving_config

    try:
        setup = ServingSetup(args.name, args.model_base_path, namespace=args.namespace)
    except ValueError as error:
        return _failed(error)
    for path in write_serving_config(setup, args.output):
        print(f"Wrote {path}")
    return 0


def _add_model_name(parser: argparse.ArgumentParser, old_spelling: str, default=None) -> None:
    """`--name`, with the command's old spelling kept as a hidden alias for one release.

    Without a default it is required (checked after parsing: argparse's own check would
    not see the alias).
    """
    parser.add_argument("--name", help=MODEL_NAME_HELP + ("" if default else " (required)"),
                        default=default)
    parser.add_argument(old_spelling, dest="name", help=argparse.SUPPRESS)
    parser.set_defaults(name_required=default is None, command_parser=parser)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser, one sub-command per job."""
    from components.image_example_gen.options import DATA
    from pipeline.config import RUN_COMMAND, PipelineConfig
    from pipeline.flags import add_settings
    from pipeline.kubeflow_options import KubeflowOptions

    parser = argparse.ArgumentParser(prog="visionpipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(RUN_COMMAND, help="run the whole pipeline locally")
    add_settings(run, PipelineConfig, RUN_COMMAND)
    run.set_defaults(handler=_run)

    inspect = commands.add_parser(
        "inspect", help="what a run would ingest, without training: layout, classes, images "
        "per split, quarantined and ignored files, duplicates, near-copies across splits")
    add_settings(inspect, PipelineConfig, "inspect", groups={DATA})
    inspect.add_argument("--json", action="store_true", help="the same facts as JSON")
    inspect.set_defaults(handler=_inspect)

    demo = commands.add_parser("demo-data", help="write the built-in demo image folders")
    demo.add_argument("dir")
    demo.add_argument("--images-per-class", type=int, default=300)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo_data)

    compile_ = commands.add_parser(
        "compile", help="compile the pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner)")
    add_settings(compile_, PipelineConfig, "compile")
    add_settings(compile_, KubeflowOptions, "compile")
    compile_.add_argument("--package", required=True,
                          help="the compiled pipeline: .json (a PipelineJob, Vertex) or .yaml "
                               "(PipelineSpec + Kubernetes platform spec, open-source KFP)")
    compile_.add_argument("--output", "--serving-output", default=None,
                          help="models are pushed to <this>/serving/<name>/ (default: the "
                               "pipeline root)")
    compile_.add_argument("--class-names", default=None,
                          help="comma-separated class names, when --data cannot be listed here")
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

    kfp_local = commands.add_parser(
        "kfp-local", help="execute a compiled pipeline here: every task from its container "
        "command, in DAG order, with KFP v2's executor input and output (no cluster)")
    kfp_local.add_argument("package", help="the compiled pipeline.yaml or pipeline.json")
    kfp_local.add_argument("--pipeline-root", default=None,
                           help="a local folder (default: the one the package was compiled for)")
    kfp_local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                           help="pipeline parameter, e.g. data_root=/data/images")
    kfp_local.set_defaults(handler=_kfp_local)

    report = commands.add_parser("report", help="re-render a run's report.html")
    report.add_argument("run_dir", help="the run folder, <output>/<name>")
    report.set_defaults(handler=_report)

    serve = commands.add_parser(
        "serve", help="serve pushed models over TF Serving's REST and gRPC APIs "
        "(tensorflow_model_server when installed, else a local server)")
    serve.add_argument("--model-base-path", required=True,
                       help="the Pusher's output, <output>/serving/<name>")
    _add_model_name(serve, "--model-name")
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
    _add_model_name(predict, "--model", default=PipelineConfig.name)
    predict.add_argument("--server", default="localhost:8501", help="REST host:port")
    predict.add_argument("--grpc", default=None, metavar="HOST:PORT",
                         help="use gRPC at HOST:PORT instead of REST")
    predict.add_argument("--top-k", type=int, default=3)
    predict.set_defaults(handler=_predict)

    serving_config = commands.add_parser(
        "serving-config", help="write TF Serving configs and Kubernetes manifests")
    _add_model_name(serving_config, "--model-name")
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
    export.add_argument("--schema", required=True, help="the .pbtxt file to write")
    export.add_argument("--output", action=_FileNotFolder, instead="--schema FILE",
                        help=argparse.SUPPRESS)
    export.set_defaults(handler=_schema_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the visionpipe console script."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # google-cloud on Python 3.10
    args = build_parser().parse_args(argv)
    if getattr(args, "name_required", False) and args.name is None:
        args.command_parser.error("the following arguments are required: --name")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
