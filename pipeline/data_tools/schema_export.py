"""`visionpipe schema export`: a run's newest schema, as the starting point for curation."""

from __future__ import annotations

import os
import shutil

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

SCHEMA_FILE = "schema.pbtxt"


def export_schema(run_dir: str, output: str) -> str:
    """Copies the newest Schema artifact of the run in run_dir to output; returns its source."""
    metadata_path = os.path.join(run_dir, "metadata.sqlite")
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"{run_dir}: no metadata.sqlite here; pass a run folder "
                                "(<output>/<name>) of a finished `visionpipe run`")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    schemas = [s for s in store.get_artifacts_by_type("Schema") if _inferred(store, s.id)]
    if not schemas:
        raise FileNotFoundError(
            f"{run_dir}: no inferred schema here (runs with --schema import theirs; run once "
            "without --schema to infer one)")
    newest = max(schemas, key=lambda a: (a.create_time_since_epoch, a.id))
    source = os.path.join(newest.uri, SCHEMA_FILE)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    shutil.copyfile(source, output)
    return source


def _inferred(store: metadata_store.MetadataStore, artifact_id: int) -> bool:
    """True when SchemaGen produced the artifact (not ImportSchemaGen)."""
    events = store.get_events_by_artifact_ids([artifact_id])
    producers = [e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    type_names = {t.id: t.name for t in store.get_execution_types()}
    return any(
        type_names[execution.type_id].endswith(".SchemaGen")
        for execution in store.get_executions_by_id(producers)
    )
