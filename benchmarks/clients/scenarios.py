"""The scenarios sent to every client, and what a client reports of one."""

from dataclasses import dataclass

# Seconds a client waits for a connection or an answer, unless the scenario says otherwise.
TIMEOUT = 5.0
# The body of a POST: a form, as a client of an API would send.
POST_BODY = b"order=1"


@dataclass(frozen=True)
class Scenario:
    """One failure sequence a client is sent, once, under a key of its own."""

    name: str
    # The list /status/<entries>?sequence=<key> serves in order.
    entries: str
    method: str = "GET"
    # Whether the request goes out on a keep-alive connection an earlier
    # request used, as in a long-running program: libcurl resends silently
    # only there.
    reused: bool = True
    # The client's timeouts, in seconds.
    timeout: float = TIMEOUT
    # The Retry-After of the first answer, in seconds (a date: at least that far ahead).
    retry_after: int | None = None

    def path(self, key: str) -> str:
        """Return the path of this scenario under sequence key `key`."""
        return f"/status/{self.entries}?sequence={key}"


@dataclass(frozen=True)
class Outcome:
    """What a client reported: the final status, or the error it raised or exited with."""

    # "200", an exception's class such as "httpx.ReadError", or curl's "exit 56".
    reported: str
    # The retries the client itself made and counted (urllib3's Retry,
    # curl's --retry); any further attempt the server saw was resent silently.
    retries: int = 0

    @property
    def status(self) -> int | None:
        """The final status the client reported; None if it reported an error."""
        return int(self.reported) if self.reported.isdigit() else None


SCENARIOS: tuple[Scenario, ...] = (
    # 503 carries Retry-After: 1 by default.
    Scenario("503 then 200", "503,200", retry_after=1),
    Scenario("503 with Retry-After: 2, then 200", "503;retry_after=2,200", retry_after=2),
    Scenario(
        "429 with a Retry-After date 1 s ahead, then 200",
        "429;retry_after=date:1,200",
        retry_after=1,
    ),
    Scenario("reset then 200", "reset,200"),
    Scenario("reset then 200, on a fresh connection", "reset,200", reused=False),
    Scenario("reset twice, then 200", "reset,reset,200"),
    Scenario("close then 200", "close,200"),
    # The sleep is four times the timeout: the first attempt always times out.
    Scenario(
        "timeout on attempt 1 (sleep 8 s, client timeout 2 s), then 200",
        "200;sleep=8000,200",
        timeout=2.0,
    ),
    Scenario("body cut short (truncate=3), then whole", "200;truncate=3,200"),
    Scenario("garbage then 200", "garbage,200"),
    Scenario("head cut short (cut_head), then 200", "cut_head,200"),
    Scenario("POST: 503 then 200", "503,200", method="POST", retry_after=1),
    Scenario("POST: reset then 200", "reset,200", method="POST"),
)
