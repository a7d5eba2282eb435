"""The deployment's entry point: a batch id in, the batch processed on whichever worker ran it.

``sohoa serve`` (with SOHOA_DEPLOYMENT) only stores the uploaded originals and queues a flow
run of this flow with the batch id; any ``sohoa worker`` polling the work pool, on any
machine, picks it up. The flow itself is defined with the other Prefect flows
(``flows/prefect_runs.py``); deployments name it here, so ones registered before keep
working.
"""

from __future__ import annotations

from flows.prefect_runs import FLOW_NAME, process_batch_run

ENTRYPOINT = "flows.deployed.process_batch_run"  # imported, not a file path: any install works

__all__ = ["ENTRYPOINT", "FLOW_NAME", "process_batch_run"]
