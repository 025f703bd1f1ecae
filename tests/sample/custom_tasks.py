"""User tasks as a project would write them, loaded with COURIER_TASKS=tests.sample.custom_tasks."""

from pydantic import BaseModel, Field

from backend import TaskContext, task


class ShoutArgs(BaseModel):
    times: int = Field(default=1, ge=1, le=5)


@task(args=ShoutArgs)
async def shout(ctx: TaskContext, text: str, args: ShoutArgs) -> str:
    """Upper-cases the text and adds exclamation marks."""
    return text.upper() + "!" * args.times


@task()
def title(text: str, args: BaseModel) -> str:
    """A plain function runs in a thread."""
    return text.title()
