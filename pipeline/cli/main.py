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

from __future__ import annotations

import argparse
import warnings

from pipeline.cli import commands

MODEL_NAME_HELP = "the model's name (as given to `visionpipe run --name`)"


class _FileNotFolder(argparse.Action):
    """An old spelling that named a file: stop with the flag that names it now."""

    def __init__(self, option_strings, dest, instead: str, **kwargs):
        self.instead = instead
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is a folder in every command; give the file with "
                     f"{self.instead}")


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
    from components.trainer.hparams import PRETRAINED
    from pipeline.cli.flags import add_settings
    from pipeline.config import RUN_COMMAND, PipelineConfig
    from pipeline.runners.kfp_local.platforms import OSS, VERTEX
    from pipeline.runners.kubeflow_options import KubeflowOptions

    parser = argparse.ArgumentParser(prog="visionpipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True)
    run = subcommands.add_parser(RUN_COMMAND, help="run the whole pipeline locally")
    add_settings(run, PipelineConfig, RUN_COMMAND)
    run.set_defaults(handler=commands.run)

    inspect = subcommands.add_parser(
        "inspect", help="what a run would ingest, without training: layout, classes, images "
        "per split, quarantined and ignored files, duplicates, near-copies across splits")
    add_settings(inspect, PipelineConfig, "inspect", groups={DATA, PRETRAINED})
    inspect.add_argument("--json", action="store_true", help="the same facts as JSON")
    inspect.add_argument("--label-issues", action="store_true",
                         help="also likely label errors, outliers and near-copies in a "
                         "pretrained base's features (--base, --alpha, --weights, --image-size); "
                         f"exit code {commands.EXIT_NO_FEATURES} when no pretrained weights can "
                         "be had here")
    inspect.set_defaults(handler=commands.inspect)

    demo = subcommands.add_parser("demo-data", help="write the built-in demo image folders")
    demo.add_argument("dir")
    demo.add_argument("--images-per-class", type=int, default=300)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=commands.demo_data)

    compile_ = subcommands.add_parser(
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
    compile_.set_defaults(handler=commands.compile_package)

    submit = subcommands.add_parser("submit", help="run a compiled pipeline on Kubeflow Pipelines")
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
    submit.set_defaults(handler=commands.submit)

    kfp_local = subcommands.add_parser(
        "kfp-local", help="execute a compiled pipeline here: every task from its container "
        "command, in DAG order, as open-source KFP's launcher (or Vertex) runs it (no cluster)")
    kfp_local.add_argument("package", help="the compiled pipeline.yaml or pipeline.json")
    kfp_local.add_argument("--platform", choices=(OSS, VERTEX), default=OSS,
                           help="oss: open-source KFP's driver and launcher (an object-store "
                           "root, artifacts staged in each pod, no preCacheCheck hook); "
                           "vertex: Vertex's contract (the hook, typed inputs, any root)")
    kfp_local.add_argument("--pipeline-root", default=None,
                           help="default: the one the package was compiled for; an s3:// root "
                           "with no AWS_ENDPOINT_URL set gets a local S3 API server")
    kfp_local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                           help="pipeline parameter, e.g. data_root=s3://bucket/images")
    kfp_local.add_argument("--copy-in", action="append", default=[], metavar="DIR=URI",
                           help="copy a local folder into the S3 store first, e.g. the data: "
                           "runs/demo-data=s3://visionpipe-local/demo-data")
    kfp_local.set_defaults(handler=commands.kfp_local)

    report = subcommands.add_parser("report", help="re-render a run's report.html")
    report.add_argument("run_dir", help="the run folder, <output>/<name>")
    report.set_defaults(handler=commands.report)

    serve = subcommands.add_parser(
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
    serve.set_defaults(handler=commands.serve)

    predict = subcommands.add_parser("predict", help="classify images with a served model")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    _add_model_name(predict, "--model", default=PipelineConfig.name)
    predict.add_argument("--server", default="localhost:8501", help="REST host:port")
    predict.add_argument("--grpc", default=None, metavar="HOST:PORT",
                         help="use gRPC at HOST:PORT instead of REST")
    predict.add_argument("--top-k", type=int, default=3)
    predict.set_defaults(handler=commands.predict)

    serving_config = subcommands.add_parser(
        "serving-config", help="write TF Serving configs and Kubernetes manifests")
    _add_model_name(serving_config, "--model-name")
    serving_config.add_argument("--model-base-path", required=True,
                                help="gs://, s3:// or a local path (served from a volume)")
    serving_config.add_argument("--namespace", default="default")
    serving_config.add_argument("--output", required=True, help="output folder")
    serving_config.set_defaults(handler=commands.serving_config)

    schema = subcommands.add_parser("schema", help="work with curated schemas")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser(
        "export", help="write a run's inferred schema as the starting point for curation")
    export.add_argument("run_dir", help="the run folder, <output>/<name>")
    export.add_argument("--schema", required=True, help="the .pbtxt file to write")
    export.add_argument("--output", action=_FileNotFolder, instead="--schema FILE",
                        help=argparse.SUPPRESS)
    export.set_defaults(handler=commands.schema_export)
    return parser


def console() -> None:
    """The `visionpipe` console script: main, then the exit (object_store.exit_process: with
    s3:// data TensorFlow's S3 filesystem is loaded, and it must not abort the exit)."""
    from components.kfp.object_store import exit_process

    exit_process(main())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the visionpipe console script."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # google-cloud on Python 3.10
    args = build_parser().parse_args(argv)
    if getattr(args, "name_required", False) and args.name is None:
        args.command_parser.error("the following arguments are required: --name")
    return args.handler(args)

