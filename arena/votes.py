"""The vote flow's server side, for one annotator at a time: the next battle, what it shows, and the vote.

A vote names the assignment the page showed: the pair (annotator, battle), which the database holds once.
`record_vote` stores it in one transaction that maps the screen choice to the battle's answers `a` and `b`, and
refuses (raising a `VoteRefusedError`, storing nothing) a battle never assigned to the annotator, a second vote,
a disabled annotator, or a vote that comes sooner after the battle was shown than anyone can read it
(`min_seconds`): one key press is one vote and brings the next battle, so a held key (the keyboard repeats it)
or a double press would otherwise vote on battles nobody looked at. `AnnotatorVotes` bundles these calls for the
vote page (`arena.vote_flow`), and for anything else that drives the flow, such as a load generator.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from arena.db import BATTLE_MODELS, Annotator, Answer, Assignment, Battle, Image, Prompt, Vote
from arena.sampling import PairPolicy, next_battle

SCREEN_CHOICES = ("left_better", "right_better", "tie_good", "tie_bad", "cant_tell")
MAX_REASON_CHARS = 2000

# What a vote needs to know about its assignment, built once (the hot path of the arena).
_ASSIGNMENT = (
    select(Assignment.swapped, Assignment.shown_at, Annotator.enabled, BATTLE_MODELS.c.model_a,
           BATTLE_MODELS.c.model_b)
    .join(Annotator, Assignment.annotator_id == Annotator.id)
    .join(BATTLE_MODELS, Assignment.battle_id == BATTLE_MODELS.c.battle_id)
    .where(Assignment.annotator_id == bindparam("annotator_id"), Assignment.battle_id == bindparam("battle_id"))
)

_ANSWER_A, _ANSWER_B = aliased(Answer), aliased(Answer)
_VOTES_CAST = select(func.count(Vote.id)).where(Vote.annotator_id == bindparam("annotator_id"))
# What the vote page shows of an assignment, and the annotator's vote count above it, in one statement rather
# than a lazy load per relationship.
_VIEW = (
    select(Assignment.swapped, Prompt.question, Image.data, Image.width, Image.height, _ANSWER_A.text,
           _ANSWER_B.text, _VOTES_CAST.scalar_subquery())
    .join(Battle, Assignment.battle_id == Battle.id)
    .join(Prompt, Battle.prompt_id == Prompt.id)
    .join(Image, Prompt.image_sha256 == Image.sha256)
    .join(_ANSWER_A, Battle.answer_a_id == _ANSWER_A.id)
    .join(_ANSWER_B, Battle.answer_b_id == _ANSWER_B.id)
    .where(Assignment.annotator_id == bindparam("annotator_id"), Assignment.battle_id == bindparam("battle_id"))
)


class VoteRefusedError(Exception):
    """A vote that was not stored; the subclass says why."""


class NotAssignedError(VoteRefusedError, LookupError):
    """The battle was never shown to this annotator, so they cannot vote on it."""


class DuplicateVoteError(VoteRefusedError, ValueError):
    """The annotator has already voted on this battle; the first vote stands."""


class AnnotatorDisabledError(VoteRefusedError, PermissionError):
    """The annotator is disabled and can no longer vote."""


class TooSoonError(VoteRefusedError):
    """The vote came sooner after the battle was shown than `min_seconds`; the battle stays open."""

    def __init__(self, message: str, seconds_shown: float) -> None:
        super().__init__(message)
        self.seconds_shown = seconds_shown


class Revealed(NamedTuple):
    """The model names behind the two sides of the screen, shown once the vote is stored."""

    left: str
    right: str


def record_vote(
    session_factory: Callable[[], Session],
    annotator_id: int,
    battle_id: int,
    choice_on_screen: str,
    reason: str | None = None,
    min_seconds: float = 0.0,
) -> Revealed:
    """Store a vote in its own transaction and return the models that were on the left and the right.

    `choice_on_screen` is one of `SCREEN_CHOICES`; left and right are translated to answers `a` and `b`
    through the assignment's `swapped` flag. An empty `reason` is stored as none. Raises NotAssignedError
    when the battle was not assigned to the annotator, AnnotatorDisabledError (a PermissionError) when the
    annotator is disabled, TooSoonError when the battle was shown less than `min_seconds` ago, DuplicateVoteError
    on a second vote, ValueError on a bad choice or a reason over `MAX_REASON_CHARS`; in every case nothing is
    written.
    """
    if choice_on_screen not in SCREEN_CHOICES:
        raise ValueError(f"unknown choice {choice_on_screen!r}; expected one of {', '.join(SCREEN_CHOICES)}")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason has {len(reason)} characters, more than the limit of {MAX_REASON_CHARS}")
    try:
        with session_factory() as session, session.begin():
            assignment = session.execute(
                _ASSIGNMENT, {"annotator_id": annotator_id, "battle_id": battle_id}
            ).one_or_none()
            if assignment is None:
                raise NotAssignedError(f"battle {battle_id} is not assigned to annotator {annotator_id}")
            swapped, shown_at, enabled, name_a, name_b = assignment
            if not enabled:
                raise AnnotatorDisabledError(f"annotator {annotator_id} is disabled")
            now = time.time()
            latency = now - shown_at
            if latency < min_seconds:
                raise TooSoonError(f"battle {battle_id} was shown {latency:.2f} s ago, less than the "
                                   f"{min_seconds:g} s a vote needs", latency)
            session.add(Vote(annotator_id=annotator_id, battle_id=battle_id,
                             choice=_relative_to_answers(choice_on_screen, swapped), reason=reason or None,
                             tstamp=now, latency=latency))
    except IntegrityError as error:
        message = f"annotator {annotator_id} has already voted on battle {battle_id}"
        raise DuplicateVoteError(message) from error
    return Revealed(left=name_b, right=name_a) if swapped else Revealed(left=name_a, right=name_b)


def _relative_to_answers(choice_on_screen: str, swapped: bool) -> str:
    if choice_on_screen == "left_better":
        return "b_better" if swapped else "a_better"
    if choice_on_screen == "right_better":
        return "a_better" if swapped else "b_better"
    return choice_on_screen


@dataclass(frozen=True)
class BattleView:
    """What an annotator sees of a battle: the question, the image, the answers where the screen puts them, and
    how many votes the annotator has cast so far."""

    battle_id: int
    question: str
    image: bytes
    width: int
    height: int
    left: str
    right: str
    votes_cast: int


class AnnotatorVotes:
    """The vote flow's store for one annotator: each call opens its own session from `session_factory`.

    `rng` draws the pairings and sides (fresh entropy when None); `pairs` orders the model pairs
    (`arena.sampling.UniformPairs` when None); `min_seconds` is the least time a battle is shown before a vote on
    it is taken (see `record_vote`)."""

    def __init__(self, session_factory: Callable[[], Session], annotator_id: int,
                 rng: random.Random | None = None, pairs: PairPolicy | None = None, min_seconds: float = 0.0) -> None:
        self.session_factory = session_factory
        self.annotator_id = annotator_id
        self.rng = rng or random.Random()
        self.pairs = pairs
        self.min_seconds = min_seconds

    def next_battle(self) -> int | None:
        """The battle to show next (the annotator's unvoted assignment first, else a new one), or None when the
        annotator has seen every battle. Raises AnnotatorDisabledError for a disabled annotator."""
        with self.session_factory() as session:
            annotator = session.get(Annotator, self.annotator_id)
            if annotator is None or not annotator.enabled:
                raise AnnotatorDisabledError(f"annotator {self.annotator_id} is disabled or unknown")
            assignment = next_battle(session, annotator, self.rng, pairs=self.pairs)
            return None if assignment is None else assignment.battle_id

    def vote(self, battle_id: int, choice_on_screen: str, reason: str | None = None) -> Revealed:
        """`record_vote` for this annotator."""
        return record_vote(self.session_factory, self.annotator_id, battle_id, choice_on_screen, reason,
                           self.min_seconds)

    def view(self, battle_id: int) -> BattleView:
        """The battle as this annotator's assignment shows it; NotAssignedError if it is not theirs."""
        with self.session_factory() as session:
            row = session.execute(_VIEW, {"annotator_id": self.annotator_id, "battle_id": battle_id}).one_or_none()
        if row is None:
            raise NotAssignedError(f"battle {battle_id} is not assigned to annotator {self.annotator_id}")
        swapped, question, image, width, height, text_a, text_b, votes_cast = row
        left, right = (text_b, text_a) if swapped else (text_a, text_b)
        return BattleView(battle_id, question, image, width, height, left, right, votes_cast)

    def votes_cast(self) -> int:
        """How many votes this annotator has cast."""
        with self.session_factory() as session:
            return session.scalar(_VOTES_CAST, {"annotator_id": self.annotator_id}) or 0
