"""Execute a compiled pipeline here, task by task, as open-source KFP or Vertex runs it.

harness.py walks the DAG and runs each task's container command with KFP's executor input
and output; launcher.py is what open-source KFP's launcher does around the command (the
object-store root, staging, its fixed paths); s3_server.py is the S3 API server the pipeline
root lives on when no store is given.
"""
