"""The docs stay honest: every flag is documented, every command they show parses, and the
README's Kubeflow example really compiles."""

import argparse
import re
import shlex

import pytest
import yaml
from conftest import REPO

from pipeline.cli import build_parser, main

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PLACEHOLDERS = {"<project>": "my-project", "<bucket>": "my-bucket", "<kfp-endpoint>": "kfp.example.com",
                "<repo>": "visionpipe", "<name>": "cats-vs-dogs", "<version>": "1"}


def _fenced_commands(path) -> list[str]:
    """The `visionpipe ...` command lines of a page's fenced blocks, continuations joined."""
    commands, block, fenced = [], [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            block.append(line)
    text = re.sub(r"\\\n\s*", " ", "\n".join(block))
    for line in text.splitlines():
        line = line.strip().removeprefix("$ ")
        if re.match(r"(\.venv/bin/)?visionpipe ", line):
            commands.append(line)
    return commands


def _argv(command: str) -> list[str]:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    return shlex.split(command, comments=True)[1:]


def _every_command():
    return [(path.name, command) for path in DOCS for command in _fenced_commands(path)]


@pytest.mark.parametrize("page, command", _every_command())
def test_every_command_the_docs_show_parses(page, command, capsys):
    try:
        build_parser().parse_args(_argv(command))
    except SystemExit:
        pytest.fail(f"{page}: `{command}` does not parse: {capsys.readouterr().err}")


def _flags(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:  # noqa: SLF001 - argparse keeps no public list
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _flags(sub, f"{prefix}{name} ")
        elif action.help != argparse.SUPPRESS:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    yield prefix.strip(), option


def test_every_flag_in_help_is_documented():
    text = "\n".join(path.read_text() for path in DOCS)
    missing = sorted({f"{command} {flag}" for command, flag in _flags(build_parser())
                      if not re.search(re.escape(flag) + r"(?![\w-])", text)})
    assert not missing, "flags in --help that no page of the docs mentions:\n" + "\n".join(missing)


def test_the_docs_show_every_command():
    text = "\n".join(path.read_text() for path in DOCS)
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    assert [name for name in commands if f"visionpipe {name}" not in text] == []


def test_the_readmes_kubeflow_example_compiles(tmp_path, capsys):
    example = next(command for command in _fenced_commands(REPO / "README.md")
                   if command.startswith("visionpipe compile"))
    argv = _argv(example)
    package = tmp_path / "pipeline.yaml"
    argv[argv.index("--package") + 1] = str(package)
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "taken to be one folder per class" in out  # the assumption --class-names makes is said
    spec = next(yaml.safe_load_all(package.read_text()))
    assert spec["root"]["inputDefinitions"]["parameters"]["data_root"]["defaultValue"] == (
        "gs://my-bucket/images")
    assert spec["defaultPipelineRoot"] == "gs://my-bucket/visionpipe/root"
    example_gen = spec["root"]["dag"]["tasks"]["ImageExampleGen"]
    config = example_gen["inputs"]["parameters"]["input_config"]["runtimeValue"]["constant"]
    assert "span-{SPAN}" in config
    # Each pod that reads the Examples gets a staging disk for the 20 GB the example declares.
    platform = list(yaml.safe_load_all(package.read_text()))[1]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    trainer = next(config for name, config in executors.items() if "Trainer" in name)
    staging = [mount for mount in trainer["emptyDirMounts"] if mount["mountPath"] == "/gcs"]
    assert staging and staging[0]["sizeLimit"] == "21Gi"  # (20 GB + 0.25 GiB) x 1.1
    assert "staging disk per pod" in out
