from backend.core.jobs import Job, JobStatus


def test_from_hash_reads_every_field() -> None:
    job = Job.from_hash(
        {
            "id": "j1", "task": "fail", "text": "x", "args": '{"a":1}', "status": "failed",
            "attempts": "2", "max_attempts": "3", "worker": "worker:h:1", "created": "1.0",
            "started": "2.0", "retry_at": "9.0", "error": "boom 2", "error:2": "boom 2",
            "error:1": "boom 1", "ref": '"r1"', "session": "s",
        }
    )  # fmt: skip
    assert job.status is JobStatus.FAILED
    assert not job.status.is_final
    assert job.args == {"a": 1}
    assert [e.attempt for e in job.errors] == [1, 2]
    assert (job.retry_at, job.ref, job.result, job.duration) == (9.0, "r1", None, None)


def test_from_hash_reads_the_options() -> None:
    row = {"id": "j", "task": "t", "text": "", "status": "queued", "created": "1.0"}
    assert (Job.from_hash(row).priority, Job.from_hash(row).timeout) == (5, None)
    job = Job.from_hash(
        row | {"priority": "8", "timeout": "2.5", "run_at": "9.0", "limited": "7.5"}
    )
    assert (job.priority, job.timeout, job.run_at, job.limited_until) == (8, 2.5, 9.0, 7.5)


def test_final_statuses() -> None:
    assert {s for s in JobStatus if s.is_final} == {"succeeded", "dead", "cancelled"}
