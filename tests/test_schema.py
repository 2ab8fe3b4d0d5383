"""The curated schema guards every run: it fits the demo data and stops drifted data, naming it."""

import pytest
import tensorflow as tf
from conftest import REPO, image_bytes, run_cli, run_main, write_examples, written_example
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx

from components.anomaly_gate.component import AnomalyGate
from pipeline.data_tools.demo import CLASSES, make_demo_data

DEMO_SCHEMA = REPO / "schemas" / "demo.pbtxt"


def _schema() -> schema_pb2.Schema:
    return text_format.Parse(DEMO_SCHEMA.read_text(), schema_pb2.Schema())


def test_demo_schema_parses_and_names_exactly_what_the_example_gen_writes():
    schema = _schema()
    example = written_example("circle/a.jpg", "circle", 0, image_bytes())
    assert {f.name for f in schema.feature} == set(example.features.feature)
    domains = {d.name: list(d.value) for d in schema.string_domain}
    assert domains["label_name"] == list(CLASSES)
    assert domains["format"] == ["jpeg", "png", "gif", "bmp"]
    label = next(f for f in schema.feature if f.name == "label")
    assert (label.int_domain.min, label.int_domain.max) == (0, len(CLASSES) - 1)
    image = next(f for f in schema.feature if f.name == "image_raw")
    assert image.HasField("image_domain") and image.shape.dim[0].size == 1


@pytest.mark.slow
def test_an_unseen_class_stops_the_run_with_the_anomaly_named(tmp_path):
    data = make_demo_data(tmp_path / "data", images_per_class=20)
    (data / "hexagon").mkdir()
    for i in range(10):
        (data / "hexagon" / f"{i}.jpg").write_bytes(image_bytes(seed=i))
    result = run_cli("run", "--data", str(data), "--output", str(tmp_path / "runs"),
                     "--schema", str(DEMO_SCHEMA), "--image-size", "32")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "AnomaliesFound" in result.stderr and "label_name" in result.stderr
    assert "hexagon" in result.stderr or "Unexpected string values" in result.stderr
    assert "Trainer" not in result.stdout  # stopped before training
    assert not (tmp_path / "runs" / "serving").exists()


def test_empty_image_feature_and_unaccepted_format_are_anomalies(tmp_path):
    good = []
    for i in range(30):
        good.append(written_example(f"{CLASSES[i % 3]}/{i}.jpg", CLASSES[i % 3], i % 3,
                             image_bytes(seed=i)))
    webp = tf.train.Example()
    webp.CopyFrom(good[0])
    webp.features.feature["format"].bytes_list.value[:] = [b"webp"]
    empty = tf.train.Example()
    empty.CopyFrom(good[1])
    del empty.features.feature["image_raw"].bytes_list.value[:]
    write_examples(tmp_path / "data" / "train" / "data.gz", good)
    write_examples(tmp_path / "data" / "eval" / "data.gz", [*good[:5], webp, empty])

    example_gen = tfx.components.ImportExampleGen(
        input_base=str(tmp_path / "data"),
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="train", pattern="train/*"),
            tfx.proto.Input.Split(name="eval", pattern="eval/*"),
        ]),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(DEMO_SCHEMA))
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    gate = AnomalyGate(anomalies=validator.outputs["anomalies"],
                       statistics=statistics_gen.outputs["statistics"],
                       schema=schema_gen.outputs["schema"])
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="drift", pipeline_root=str(tmp_path / "root"),
        components=[example_gen, statistics_gen, schema_gen, validator, gate],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "m.sqlite")),
        beam_pipeline_args=["--runner=FnApiRunner"],
    )
    with pytest.raises(Exception) as error:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    chain, message = error.value, ""
    while chain is not None:
        message += str(chain)
        chain = chain.__cause__ or chain.__context__
    assert "[eval] format" in message and "webp" in message
    assert "[eval] image_raw" in message
    assert "[train]" not in message  # the clean split passes


def test_schema_export_writes_the_inferred_schema(span_run, tmp_path, capsys):
    assert span_run["result"].returncode in (0, 3), span_run["result"].stderr[-2000:]
    output = tmp_path / "schemas" / "spans.pbtxt"
    result = run_main(capsys, "schema", "export", str(span_run["run_dir"]), "--schema", str(output))
    assert result.returncode == 0, result.stderr
    schema = text_format.Parse(output.read_text(), schema_pb2.Schema())
    assert {f.name for f in schema.feature} == {f.name for f in _schema().feature}
    domains = {d.name: list(d.value) for d in schema.string_domain}
    assert domains["label_name"] == list(CLASSES)  # inferred from the data, ready to curate
