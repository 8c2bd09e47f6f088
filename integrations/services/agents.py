"""Staff who take transferred calls and tasks: sign-in, presence and who can serve a queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.errors import InvalidField, NotFound
from integrations.services.transaction import atomic
from integrations.store.models import Agent, CallQueue

PRESENCES = frozenset({"offline", "available", "busy", "away", "wrap_up"})
# Why an agent is away. She says which from her console; the system says the last two: her
# console closed with her marked available, or an offer rang out on her phone unanswered.
CHOSEN_AWAY_REASONS = ("break", "lunch", "meeting", "training", "admin", "other")
AWAY_REASONS = frozenset({*CHOSEN_AWAY_REASONS, "console_closed", "missed_offer"})


@dataclass(frozen=True)
class PresenceState:
    presence: str
    reason: str | None  # with "away" only
    since: datetime | None  # when she entered this state (and reason)

    def to_json(self) -> dict[str, object]:
        return {
            "presence": self.presence,
            "reason": self.reason,
            "since": None if self.since is None else self.since.isoformat(),
        }


@dataclass(frozen=True)
class AgentInfo:
    agent_id: int
    name: str
    username: str
    role: str
    sip_uri: str
    skills: tuple[str, ...]
    presence: str
    # `sip_uri` is her console's browser phone (through the gateway), not her desk phone.
    on_browser_phone: bool = False


@dataclass(frozen=True)
class QueueInfo:
    name: str
    skills: tuple[str, ...]


def agent_info(a: Agent) -> AgentInfo:
    """The agent as routing sees her: calls ring her browser phone while it is registered."""
    phone = a.browser_phone_uri or a.sip_uri
    return AgentInfo(
        a.id, a.name, a.username, a.role, phone, tuple(a.skills), a.presence,
        on_browser_phone=bool(a.browser_phone_uri),
    )  # fmt: skip


@dataclass(frozen=True)
class SignInRecord:
    """What checking a sign-in needs; the hash is compared off the event loop by the caller."""

    agent: AgentInfo
    password_hash: str
    must_change_password: bool


async def sign_in_record(s: AsyncSession, username: str) -> SignInRecord | None:
    async with atomic(s):
        agent = await s.scalar(select(Agent).where(Agent.username == username))
        if agent is None:
            return None
        return SignInRecord(agent_info(agent), agent.password_hash, agent.must_change_password)


async def set_password_hash(
    s: AsyncSession, agent_id: int, password_hash: str, *, must_change: bool = False
) -> None:
    """Store a new hash (made by `integrations.passwords`); `must_change` for a password the
    agent did not choose, such as a one-time password handed over by an administrator."""
    async with atomic(s):
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent with id {agent_id}")
        agent.password_hash = password_hash
        agent.must_change_password = must_change


ROLES = frozenset({"agent", "nurse", "supervisor"})


async def add_agent(
    s: AsyncSession,
    *,
    username: str,
    name: str,
    role: str,
    password_hash: str,
    skills: tuple[str, ...] = (),
    sip_uri: str = "",
    may_publish: bool = False,
) -> AgentInfo:
    """A new staff account that must choose its own password at first sign-in;
    `may_publish`: it may publish the call flow's wording (an administrator)."""
    if role not in ROLES:
        raise InvalidField(f"role must be one of {sorted(ROLES)}")
    if not username or len(username) > 64 or not username.isascii():
        raise InvalidField("username must be 1..64 ASCII characters")
    async with atomic(s):
        if await s.scalar(select(Agent.id).where(Agent.username == username)) is not None:
            raise InvalidField(f"username {username!r} is taken")
        agent = Agent(name=name, username=username, role=role, skills=list(skills),
                      sip_uri=sip_uri, presence="offline", password_hash=password_hash,
                      must_change_password=True, may_publish=may_publish)
        s.add(agent)
        await s.flush()
        return agent_info(agent)


async def agent_by_username(s: AsyncSession, username: str) -> AgentInfo | None:
    async with atomic(s):
        agent = await s.scalar(select(Agent).where(Agent.username == username))
        return None if agent is None else agent_info(agent)


async def agent_by_id(s: AsyncSession, agent_id: int) -> AgentInfo | None:
    async with atomic(s):
        agent = await s.get(Agent, agent_id)
        return None if agent is None else agent_info(agent)


async def may_publish(s: AsyncSession, agent_id: int) -> bool:
    """Whether the agent may publish the call flow's wording, as the store says now."""
    async with atomic(s):
        return bool(await s.scalar(select(Agent.may_publish).where(Agent.id == agent_id)))


async def list_agents(s: AsyncSession) -> list[AgentInfo]:
    async with atomic(s):
        return [agent_info(a) for a in await s.scalars(select(Agent).order_by(Agent.id))]


async def list_queues(s: AsyncSession) -> list[QueueInfo]:
    async with atomic(s):
        rows = await s.scalars(select(CallQueue).order_by(CallQueue.name))
        return [QueueInfo(q.name, tuple(q.skills)) for q in rows]


async def set_presence(
    s: AsyncSession,
    agent_id: int,
    presence: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> PresenceState:
    """Put the agent in `presence` (with a `reason` when away: "other" if none is given). Her
    state timer restarts only when the state or the reason changes, not when one is said
    again."""
    if presence not in PRESENCES:
        raise InvalidField(f"presence must be one of {sorted(PRESENCES)}")
    if presence != "away" and reason is not None:
        raise InvalidField("a reason goes with away only")
    if presence == "away":
        reason = reason or "other"
        if reason not in AWAY_REASONS:
            raise InvalidField(f"away reason must be one of {sorted(AWAY_REASONS)}")
    async with atomic(s):
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent with id {agent_id}")
        changed = (agent.presence, agent.presence_reason) != (presence, reason)
        if changed or agent.presence_since is None:
            agent.presence_since = now or datetime.now(UTC)
        agent.presence, agent.presence_reason = presence, reason
        return PresenceState(presence, reason, agent.presence_since)


async def presence_of(s: AsyncSession, agent_id: int) -> PresenceState:
    async with atomic(s):
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent with id {agent_id}")
        return PresenceState(agent.presence, agent.presence_reason, agent.presence_since)


async def agents_for_queue(
    s: AsyncSession, queue: str, *, available_only: bool = True
) -> list[AgentInfo]:
    """Agents holding every skill the queue asks for (JSON skills are matched in Python)."""
    async with atomic(s):
        q = await s.scalar(select(CallQueue).where(CallQueue.name == queue))
        if q is None:
            raise NotFound(f"no queue named {queue!r}")
        needed = set(q.skills)
        agents = await s.scalars(select(Agent).order_by(Agent.id))
        return [
            agent_info(a)
            for a in agents
            if needed <= set(a.skills) and (not available_only or a.presence == "available")
        ]


async def browser_phone_changed(
    s: AsyncSession, agent_id: int, uri: str, *, registered: bool
) -> None:
    """One of her consoles' browser phones was registered at `uri` by the gateway, or is no
    longer: calls ring her browser while any of her consoles has it, her desk phone after the
    last one goes (a second tab closing leaves the first one ringing)."""
    async with atomic(s):
        if await s.get(Agent, agent_id) is None:
            raise NotFound(f"no agent with id {agent_id}")
        tabs = Agent.browser_phone_tabs
        if registered:
            await s.execute(
                update(Agent)
                .where(Agent.id == agent_id)
                .values(browser_phone_tabs=tabs + 1, browser_phone_uri=uri)
            )
        else:  # one statement: two consoles closing at once on two processes count right
            await s.execute(
                update(Agent)
                .where(Agent.id == agent_id)
                .values(
                    browser_phone_tabs=case((tabs > 1, tabs - 1), else_=0),
                    browser_phone_uri=case((tabs > 1, Agent.browser_phone_uri), else_=""),
                )
            )
        s.expire_all()  # the row changed under the session's own copy
