"""``learndyn study``: a scripted service (httpx.MockTransport) for the exact summary, the
real app for a run end to end, and the error paths: one line on stderr, no traceback."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients import Client
from service import cli
from service.api.studies import to_csv
from service.schemas.studies import Progress, Study, StudyRow, StudyRows, SweepSummary
from tests.conftest import free_port

STUDY_ID = "abcdef0123456789abcdef0123456789"
SPEC: dict[str, Any] = {
    "kind": "sweep",
    "name": "tiny",
    "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 2000},
    "grid": {"seed": {"range": [0, 4]}},
}


def a_study(status: str, done: int, detail: str | None = None) -> Study:
    ended = done == 4
    return Study(
        id=STUDY_ID,
        kind="sweep",
        name="tiny",
        status=status,
        progress=Progress(done=done, total=4, failed=1 if ended else 0),
        created=datetime(2025, 1, 2, tzinfo=UTC),
        started=None,
        finished=None,
        axes={"seed": [0, 1, 2, 3]},
        summary=SweepSummary(
            verdicts={"converging": 2, "logarithmic": 1} if ended else {"converging": 1},
            failed=1 if ended else 0,
            per_axis={
                "seed": {"0": {"converging": 1}, "1": {"converging": 1}, "2": {"logarithmic": 1}}
            },
        ),
        detail=detail,
    )


ROWS = [
    StudyRow(
        index=i,
        params={"seed": i},
        verdict=None if i == 3 else ("logarithmic" if i == 2 else "converging"),
        error=None if i == 3 else 0.5,
        accuracy=None if i == 3 else 1.0,
        stopped_by=None if i == 3 else "steps",
        steps=None if i == 3 else 2000,
        log_rate_norm=None,
        apparent_convergence=None if i == 3 else False,
        weights=None if i == 3 else [1.5],
        seconds=0.01,
        failure="refused" if i == 3 else None,
    )
    for i in range(4)
]


class FakeService:
    """The routes ``learndyn study`` uses, scripted; ``seen`` keeps every request."""

    def __init__(self, ended: Study | None = None, refuse: dict[str, Any] | None = None) -> None:
        self.ended = ended or a_study("done", 4)
        self.refuse = refuse
        self.seen: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if path == "/studies" and self.refuse is not None:
            problem = {"type": "about:blank", "title": "Unprocessable Entity", **self.refuse}
            headers = {"content-type": "application/problem+json"}
            return httpx.Response(422, json=problem, headers=headers)
        if path == "/studies":
            return httpx.Response(202, json=a_study("queued", 0).model_dump(mode="json"))
        if path.endswith("/events"):
            events = [
                f"event: progress\ndata: {json.dumps({'done': d, 'total': 4, 'failed': 0})}\n\n"
                for d in (0, 2)
            ]
            events.append(f"event: end\ndata: {self.ended.model_dump_json()}\n\n")
            return httpx.Response(200, text="".join(events))
        if path.endswith("/results"):
            return httpx.Response(
                200, text=to_csv(StudyRows(rows=ROWS, total=4, offset=0, limit=4))
            )
        return httpx.Response(200, json=a_study("running", 2).model_dump(mode="json"))


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in ``text``, as lists of cells."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def run_scripted(service: FakeService, spec: Path, **options: Any) -> int:
    return cli._study(
        str(spec), "http://test", transport=httpx.MockTransport(service.handle), **options
    )


# -- a scripted service: the exact output --------------------------------------------------


def test_the_summary_counts_each_verdict_and_each_axis_value(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = FakeService()
    out = tmp_path / "rows.csv"
    assert run_scripted(service, spec, csv_path=str(out)) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[0] == f"study {STUDY_ID} (tiny) done: 4 of 4 points, 1 failed"
    assert table_rows(printed.out) == [
        ["converging", "2"],
        ["logarithmic", "1"],
        ["failed", "1"],
        ["seed", "0", "1", "0"],
        ["seed", "1", "1", "0"],
        ["seed", "2", "0", "1"],
        ["seed", "3", "0", "0"],
    ]
    assert "4/4" in printed.err and "converging 2 · logarithmic 1 · failed 1" in printed.err
    assert out.read_bytes().decode() == to_csv(StudyRows(rows=ROWS, total=4, offset=0, limit=4))
    paths = [r.url.path for r in service.seen]
    assert paths[:2] == ["/studies", f"/studies/{STUDY_ID}/events"]
    assert f"/studies/{STUDY_ID}" in paths  # the counts fetched while it ran


def test_no_wait_prints_the_study_and_returns(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = FakeService()
    assert run_scripted(service, spec, wait=False) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"study {STUDY_ID} queued: 4 points",
        f"http://test/studies/{STUDY_ID}",
    ]
    assert [r.url.path for r in service.seen] == ["/studies"]


def test_a_study_that_did_not_finish_exits_1_after_its_summary(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = FakeService(ended=a_study("cancelled", 2, detail="cancelled by DELETE"))
    assert run_scripted(service, spec) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        f"study {STUDY_ID} (tiny) cancelled: 2 of 4 points, 0 failed",
        "cancelled by DELETE",
    ]
    assert ["converging", "1"] in table_rows(out)


def test_a_refusal_prints_the_detail_and_the_reasons_it_lacks(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = {
        "status": 422,
        "detail": "the request does not fit the schema (grid.seed)",
        "errors": [
            {"loc": ["body", "grid", "seed"], "field": "grid.seed", "message": "too many values",
             "type": "value_error"},
        ],
    }  # fmt: skip
    assert run_scripted(FakeService(refuse=refusal), spec) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "learndyn: 422 Unprocessable Entity: the request does not fit the schema (grid.seed)",
        "  grid.seed: too many values",
    ]


def test_a_csv_that_cannot_be_written_is_one_line(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "rows.csv"
    assert run_scripted(FakeService(), spec, csv_path=str(missing)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("learndyn: ") and str(missing) in err[-1]


# -- the file and the arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("{not json", "not JSON: Expecting property name"),
        ("[1, 2]", "a study request is a JSON object"),
        (json.dumps({**SPEC, "kind": "landscape"}), "invalid request, not sent: kind:"),
        (b"\xff\xfe{}", "can't decode byte 0xff"),
    ],
)
def test_a_bad_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "spec.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    port = free_port()  # nothing is sent: no service needed
    assert cli.main(["study", str(path), "--url", f"http://127.0.0.1:{port}"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert len(printed.err.splitlines()) == 1 and printed.err.startswith(f"learndyn: {path}: ")
    assert message in printed.err


def test_csv_needs_waiting(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["study", str(spec), "--no-wait", "--csv", "rows.csv"])
    assert info.value.code == 2
    assert "--csv saves the rows of an ended study: drop --no-wait" in capsys.readouterr().err


def test_an_unreachable_service_is_one_line(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["study", str(spec), "--url", url]) == 1  # after the client's 3 retries
    err = capsys.readouterr().err
    assert err.startswith("learndyn: ConnectError:") and len(err.splitlines()) == 1


def test_train_a_missing_file_is_one_line_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    assert cli.main(["train", str(missing)]) == 2
    assert capsys.readouterr().err == f"learndyn: {missing}: No such file or directory\n"


# -- the real app --------------------------------------------------------------------------


def test_a_study_on_the_real_app(
    study_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "grid": {"seed": {"range": [0, 3]}}}))
    out = tmp_path / "rows.csv"
    assert cli.main(["study", str(spec), "--url", study_server, "--csv", str(out)]) == 0
    printed = capsys.readouterr()
    with Client(base_url=study_server) as client:
        study = client.studies(limit=1).studies[0]
    assert printed.out.splitlines()[0] == f"study {study.id} (tiny) done: 3 of 3 points, 0 failed"
    rows = table_rows(printed.out)
    verdicts = {v.value: n for v, n in study.summary.verdicts.items()}
    assert rows[: len(verdicts)] == [[v, str(n)] for v, n in verdicts.items()]
    assert [r[:2] for r in rows[len(verdicts) :]] == [["seed", "0"], ["seed", "1"], ["seed", "2"]]
    assert sum(int(n) for r in rows[len(verdicts) :] for n in r[2:]) == 3
    assert "3/3" in printed.err
    text = out.read_bytes().decode()
    assert text == httpx.get(f"{study_server}/studies/{study.id}/results?format=csv").text
    assert [r[0] for r in csv.reader(io.StringIO(text, newline=""))] == ["index", "0", "1", "2"]


def test_the_service_refuses_an_unknown_axis(
    study_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "grid": {"colour": ["red"]}}))
    assert cli.main(["study", str(spec), "--url", study_server]) == 1
    err = capsys.readouterr().err
    assert err.startswith("learndyn: 422 Unprocessable Entity: grid.colour: unknown axis")
    assert len(err.splitlines()) == 1  # the detail holds the reason: not printed twice


def test_a_closed_pipe_is_no_traceback(study_server: str, spec: Path) -> None:
    command = [sys.executable, "-m", "service.cli", "study", str(spec), "--url", study_server]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the summary is printed
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1
    assert b"Traceback" not in err and b"Exception ignored" not in err and b"Error" not in err
