"""What a new user does with a pip-installed Runledger, run against `runledger serve`.

Usage: install_smoke.py BASE_URL RUNLEDGER_COMMAND, in the folder the server was started in.
It runs with the installed package's interpreter, so it can use only what the package installs
(the official `vellum-ai` client and its Workflows SDK among them), never the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import TypeAdapter
from vellum import Vellum, VellumEnvironment
from vellum.client.types import WorkflowEvent
from vellum.workflows import BaseWorkflow
from vellum.workflows.inputs import BaseInputs
from vellum.workflows.nodes import BaseNode
from vellum.workflows.state import BaseState
from vellum.workflows.workflows.event_filters import all_workflow_event_filter


class Inputs(BaseInputs):
    text: str


class Shout(BaseNode[BaseState]):
    text = Inputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.upper())


class ShoutWorkflow(BaseWorkflow[Inputs, BaseState]):
    graph = Shout

    class Outputs(BaseWorkflow.Outputs):
        result = Shout.Outputs.result


def wait_until_ready(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {base} was not ready after 120 s")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"install smoke: {what}")
    print(f"install smoke: ok: {what}")


def main(base: str, runledger: str) -> None:
    wait_until_ready(base)
    key_file = Path(".runledger/first-api-key")
    check(key_file.is_file(), "serve left the first API key in ./.runledger/first-api-key")
    client = Vellum(
        api_key=key_file.read_text().strip(),
        environment=VellumEnvironment(default=base, predict=base, documents=base),
    )

    events = [
        event.model_dump(mode="json")
        for event in ShoutWorkflow().stream(
            inputs=Inputs(text="hi"), event_filter=all_workflow_event_filter
        )
    ]
    models = [TypeAdapter(WorkflowEvent).validate_python(event) for event in events]
    response = client.events.create(request=models)
    extra = response.model_extra or {}
    check(extra.get("accepted_count") == len(events), f"ingested {len(events)} events")

    execution_id = events[0]["span_id"]
    wait = {"additional_query_parameters": {"min_log_position": extra["log_position"]}}
    status = client.workflows.workflow_execution_status(execution_id, request_options=wait)
    check(status.status == "FULFILLED", f"status is FULFILLED (got {status.status})")
    check(status.outputs == {"result": "HI"}, f"status outputs (got {status.outputs})")

    detail = client.workflow_executions.retrieve_workflow_execution_detail(
        execution_id, span_limit=100
    )
    names = sorted(span.name for span in detail.spans)
    check(names == ["node.execution", "workflow.execution"], f"detail spans (got {names})")

    for command in (["replay"], ["verify"]):
        done = subprocess.run([runledger, *command], capture_output=True, text=True, check=False)
        output = (done.stdout + done.stderr).strip()
        check(done.returncode == 0, f"runledger {command[0]} exits 0 ({output[-300:]})")

    again = client.workflows.workflow_execution_status(execution_id)
    check(again.status == "FULFILLED", "status reads the same after replay")

    # The reference is package data: a wheel without the page answers 500 here.
    document = httpx.get(f"{base}/openapi.json", timeout=10)
    check(document.json().get("openapi", "").startswith("3.1"), "/openapi.json is OpenAPI 3.1")
    page = httpx.get(f"{base}/docs", timeout=10)
    check(page.status_code == 200 and "openapi.json" in page.text, "/docs serves the reference")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
