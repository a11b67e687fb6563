"""The vote page as a state machine, with neither Streamlit nor the database in it.

`step(state, event)` gives the next state and, when the store must be asked something, a command. Events are
what the annotator did (`Opened` the page, clicked a vote button: `VoteClicked`) and what the store answered
(`Assigned`, `VoteStored`, `VoteRefused`, `VoteTooSoon`). One click is one vote: once it is stored the next
battle comes on screen in the same step, with the names of the two models just voted on above it, so an
annotator votes with one key press per battle and the server draws the page once per vote. Every click names the
battle of the screen it was on, so a click that comes from an older screen (a second tab, a double click, a page
not yet redrawn) can only ever be about the battle that screen showed: a vote on any battle but the one on
screen is refused here, and the store refuses a second vote, a battle that is not the annotator's, and a vote
that comes too soon after its battle appeared (a held key), which leaves that battle on screen.

`advance(state, event, store)` runs `step` and the store's answers until no command is left; the page draws
the `VoteState` it returns (arena/pages.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from arena.votes import DuplicateVoteError, NotAssignedError, Revealed, TooSoonError, VoteRefusedError

NOTICE_ALREADY_VOTED = "You have already voted on that battle (in another tab?); here is the next one."
NOTICE_NOT_YOURS = "That battle is not assigned to you; nothing was stored. Here is the next one."
NOTICE_NOT_ON_SCREEN = "That vote was for a battle no longer on screen; nothing was stored."
NOTICE_REFUSED = "Your vote could not be stored: {reason}"
NOTICE_TOO_SOON = ("That vote came {seconds:.1f} s after this battle appeared (a held or repeated key?); nothing was "
                   "stored. Read both answers, then vote.")


@dataclass(frozen=True)
class VoteState:
    """What one browser tab shows.

    `battle_id`: the battle on screen (with the annotator, it names the assignment), None before the first;
    `revealed`: the model names of the battle this tab voted on last, shown above the next one; `notice`: a line
    to show above it; `finished`: no battle is left; `scroll_to_top`: the battle has just come on screen.
    """

    battle_id: int | None = None
    revealed: Revealed | None = None
    notice: str | None = None
    finished: bool = False
    scroll_to_top: bool = False


@dataclass(frozen=True)
class Opened:
    """The page is drawn without a click of its own: first visit, reload, or another widget changed."""


@dataclass(frozen=True)
class VoteClicked:
    """A vote button (or its key) of the screen that showed `battle_id`."""

    battle_id: int
    choice: str
    reason: str | None = None


@dataclass(frozen=True)
class Assigned:
    """The store's next battle for the annotator, None when every battle is done."""

    battle_id: int | None


@dataclass(frozen=True)
class VoteStored:
    battle_id: int
    revealed: Revealed


@dataclass(frozen=True)
class VoteRefused:
    battle_id: int
    notice: str


@dataclass(frozen=True)
class VoteTooSoon:
    """The store's answer to a vote sooner after the battle appeared than a vote can be: the battle stays."""

    battle_id: int
    notice: str


@dataclass(frozen=True)
class AssignNext:
    """Command: ask the store for the annotator's next battle."""


@dataclass(frozen=True)
class StoreVote:
    """Command: store the vote on `battle_id`."""

    battle_id: int
    choice: str
    reason: str | None


Event = Opened | VoteClicked | Assigned | VoteStored | VoteRefused | VoteTooSoon
Command = AssignNext | StoreVote


def step(state: VoteState, event: Event) -> tuple[VoteState, Command | None]:  # noqa: PLR0911 (a return per event)
    """The state after `event`, and the command to run next (None: draw the state)."""
    calm = replace(state, scroll_to_top=False)
    match event:
        case Opened():
            return calm, AssignNext() if state.battle_id is None else None
        case VoteClicked(battle_id, choice, reason):
            if battle_id != state.battle_id:
                return replace(calm, notice=NOTICE_NOT_ON_SCREEN), None
            return calm, StoreVote(battle_id, choice, reason or None)
        case VoteStored(_, revealed):
            return VoteState(revealed=revealed), AssignNext()
        case VoteRefused(_, notice):
            return VoteState(notice=notice), AssignNext()
        case VoteTooSoon(_, notice):
            return replace(calm, notice=notice), None
        case Assigned(None):
            return replace(state, battle_id=None, finished=True, scroll_to_top=False), None
        case Assigned(battle_id):
            return replace(state, battle_id=battle_id, finished=False, scroll_to_top=True), None
    raise TypeError(f"not a vote-page event: {event!r}")


class VoteStore(Protocol):
    """What the flow needs from the database, for one annotator (`arena.votes.AnnotatorVotes`)."""

    def next_battle(self) -> int | None: ...

    def vote(self, battle_id: int, choice_on_screen: str, reason: str | None = None) -> Revealed: ...


def advance(state: VoteState, event: Event, store: VoteStore) -> VoteState:
    """Apply `event`, then run the commands it leads to against `store`, until the state is one to draw."""
    state, command = step(state, event)
    while command is not None:
        state, command = step(state, _run(command, store))
    return state


def _run(command: Command, store: VoteStore) -> Event:
    if isinstance(command, AssignNext):
        return Assigned(store.next_battle())
    try:
        return VoteStored(command.battle_id, store.vote(command.battle_id, command.choice, command.reason))
    except TooSoonError as error:
        return VoteTooSoon(command.battle_id, NOTICE_TOO_SOON.format(seconds=error.seconds_shown))
    except DuplicateVoteError:
        return VoteRefused(command.battle_id, NOTICE_ALREADY_VOTED)
    except NotAssignedError:
        return VoteRefused(command.battle_id, NOTICE_NOT_YOURS)
    except VoteRefusedError as error:
        return VoteRefused(command.battle_id, NOTICE_REFUSED.format(reason=error))
