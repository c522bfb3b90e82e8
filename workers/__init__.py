"""Background work: the job functions (`workers.jobs`) and the arq worker that runs them (`workers.worker`).

The same job functions run in an arq worker (`obsrvr-flow worker`, production) and in the API process's
in-process runner (`obsrvr-flow dev`), with the same context built by `workers.worker.job_context`.
"""
