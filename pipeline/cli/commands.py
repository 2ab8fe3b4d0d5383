"""What each `visionpipe` command does: one handler per sub-command, each returning the exit code.

Errors a user can cause end as one line on stderr (`visionpipe: error: ...`) and exit code
EXIT_FAILED; a model that is not blessed exits with EXIT_NOT_BLESSED. Heavy modules are
imported inside the handlers, so `--help` and a bad flag answer without loading TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

EXIT_FAILED = 1
EXIT_NOT_BLESSED = 3
EXIT_NO_FEATURES = 4  # `inspect --label-issues` where no pretrained weights can be had


def failed(error: object) -> int:
    """Prints a one-line error the way every command does and returns the failure exit code."""
    print(f"visionpipe: error: {error}", file=sys.stderr)
    return EXIT_FAILED


def config_from(args: argparse.Namespace):
    from pipeline.cli.flags import settings_from
    from pipeline.config import PipelineConfig

    return settings_from(args, PipelineConfig)


def run(args: argparse.Namespace) -> int:
    from pipeline.reporting.summary import format_table
    from pipeline.runners.local import RunFailed, run_pipeline

    try:
        summary = run_pipeline(config_from(args))
    except (RunFailed, ValueError) as error:
        return failed(error)
    print(format_table(summary))
    print(f"Report: {summary['report']}")
    if summary.get("pushed_to"):
        print(f"Pushed model: {summary['pushed_to']}")
        return 0
    reasons = "; ".join(summary.get("failed_thresholds", [])) or "see the summary"
    print(f"visionpipe: model not blessed: {reasons}; nothing pushed", file=sys.stderr)
    return EXIT_NOT_BLESSED


def inspect(args: argparse.Namespace) -> int:
    import json

    from pipeline.data_tools import feature_review, inspection

    try:
        facts = inspection.inspect(config_from(args), progress=not args.json,
                                   label_issues=args.label_issues)
    except feature_review.NoFeatures as error:
        failed(error)
        return EXIT_NO_FEATURES
    except (inspection.DataError, ValueError, OSError) as error:
        return failed(error)
    print(json.dumps(facts, indent=2) if args.json else inspection.format_inspection(facts))
    return 0


def demo_data(args: argparse.Namespace) -> int:
    from pipeline.data_tools.demo import make_demo_data

    root = make_demo_data(args.dir, images_per_class=args.images_per_class, seed=args.seed)
    print(f"Demo data written to {root}")
    return 0


def schema_export(args: argparse.Namespace) -> int:
    from pipeline.data_tools.schema_export import export_schema

    try:
        source = export_schema(args.run_dir, args.schema)
    except FileNotFoundError as error:
        return failed(error)
    print(f"Wrote {args.schema} (from {source}); curate it, then pass it with --schema")
    return 0


def compile_package(args: argparse.Namespace) -> int:
    from components.image_example_gen import sources
    from pipeline.cli.flags import settings_from
    from pipeline.data_tools.inspection import DataError, find_layout, layout_lines
    from pipeline.runners.kubeflow_compile import compile_pipeline
    from pipeline.runners.kubeflow_options import PACKAGE_EXTENSIONS, KubeflowOptions

    if args.output and args.output.endswith(PACKAGE_EXTENSIONS):
        return failed(f"--output {args.output} is the folder models are pushed under; "
                       "write the compiled pipeline with --package FILE")
    try:
        options = settings_from(args, KubeflowOptions)
        # Models are pushed below <--output or the pipeline root>/serving/<name>/.
        config = dataclasses.replace(config_from(args),
                                     output=args.output or options.pipeline_root)
        if args.class_names:
            layout = sources.source(config.ingest.data_format).declare(
                config.data, args.class_names.split(","), config.ingest.split_ratio)
        else:
            layout = find_layout(config)
        compiled = compile_pipeline(config, layout, options, args.package)
    except (DataError, ValueError, OSError) as error:
        return failed(error)
    for line in layout_lines(layout):
        print(f"[visionpipe] {line}")
    if compiled.staging:
        print("[visionpipe] staging disk per pod (open-source KFP's launcher downloads each "
              "task's inputs): " + ", ".join(f"{task} {size}"
                                            for task, size in compiled.staging.items()))
    elif not compiled.path.endswith(".json"):  # (Vertex stages nothing)
        print("[visionpipe] staging disk per pod: not sized (the data's size is unknown here); "
              "pass --data-size or --ephemeral-storage TASK=SIZE")
    print(f"Compiled {compiled.path} (image {options.image}, pipeline root "
          f"{options.pipeline_root})")
    return 0


def submit(args: argparse.Namespace) -> int:
    from pipeline.runners.kubeflow_submit import parse_params, submit

    try:
        submitted = submit(args.package, args.host, namespace=args.namespace,
                           experiment=args.experiment, schedule=args.schedule,
                           params=parse_params(args.param), run_name=args.run_name,
                           token=args.token, cookies=args.cookies)
    except (ValueError, OSError) as error:
        return failed(error)
    except Exception as error:  # noqa: BLE001 - the KFP API's errors, as one line
        return failed(f"Kubeflow Pipelines at {args.host}: {error}".splitlines()[0])
    print(f"Created {submitted.kind} {submitted.id}: {submitted.url}")
    return 0


def kfp_local(args: argparse.Namespace) -> int:
    from pipeline.runners.kfp_local import session
    from pipeline.runners.kfp_local.harness import TaskFailed, load_pipeline_spec
    from pipeline.runners.kubeflow_submit import parse_params

    try:
        root = args.pipeline_root or load_pipeline_spec(args.package).get("defaultPipelineRoot")
        if not root:
            raise ValueError(f"{args.package} names no pipeline root: give --pipeline-root")
        done = session.run(args.package, root, parse_params(args.param), args.platform,
                           session.parse_copy_in(args.copy_in),
                           on_task=lambda line: print(f"[visionpipe] {line}", flush=True))
    except (TaskFailed, ValueError, OSError) as error:
        return failed(error)
    if done.pushed:
        print(f"Pushed model: {done.pushed}")
        if done.bucket_copy:  # the local server's bucket is gone; its copy is not
            bucket = done.pushed.removeprefix("s3://").split("/", 1)[0]
            local = os.path.join(os.path.dirname(done.bucket_copy),
                                 done.pushed.removeprefix("s3://"))
            print(f"  (the local S3 server has stopped: {bucket}'s copy of it is {local}; "
                  f"serve it with visionpipe serve --model-base-path {os.path.dirname(local)})")
        return 0
    print("visionpipe: model not blessed, nothing pushed", file=sys.stderr)
    return EXIT_NOT_BLESSED


def report(args: argparse.Namespace) -> int:
    from pipeline.reporting.report import render_report

    try:
        path = render_report(args.run_dir)
    except FileNotFoundError as error:
        return failed(error)
    print(f"Wrote {path}")
    return 0


def serve(args: argparse.Namespace) -> int:
    from serving.server import serve

    try:
        return serve(args.name, args.model_base_path, args.rest_port, args.grpc_port,
                     args.host, max_request_bytes=args.max_request_bytes,
                     enable_batching=args.enable_batching)
    except (ValueError, OSError, TimeoutError) as error:
        return failed(error)


def predict(args: argparse.Namespace) -> int:
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
            return failed(error)
    print(format_answers(answers))
    return 0


def serving_config(args: argparse.Namespace) -> int:
    from serving.config_files import ServingSetup, write_serving_config

    try:
        setup = ServingSetup(args.name, args.model_base_path, namespace=args.namespace)
    except ValueError as error:
        return failed(error)
    for path in write_serving_config(setup, args.output):
        print(f"Wrote {path}")
    return 0
