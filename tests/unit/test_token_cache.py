"""The token cache on its own: entries end at their bound, a full cache makes room (expired entries first, then the
oldest), and a bound of 0 keeps nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vigil.token_cache import TokenCache


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID


def test_an_entry_lasts_exactly_its_bound() -> None:
    now = [0.0]
    cache: TokenCache[Person] = TokenCache(5, clock=lambda: now[0])
    ana = Person(uuid.uuid4())
    cache.put("a", ana)
    now[0] = 4.99
    assert cache.get("a") == ana
    now[0] = 5.0
    assert cache.get("a") is None


def test_a_full_cache_drops_expired_entries_first_then_the_oldest() -> None:
    now = [0.0]
    cache: TokenCache[Person] = TokenCache(5, max_entries=3, clock=lambda: now[0])
    for key in ("old", "a"):
        cache.put(key, Person(uuid.uuid4()))
    now[0] = 3
    cache.put("b", Person(uuid.uuid4()))
    now[0] = 6  # "old" and "a" have expired
    cache.put("c", Person(uuid.uuid4()))
    cache.put("d", Person(uuid.uuid4()))
    assert [k for k in ("old", "a", "b", "c", "d") if cache.get(k)] == ["b", "c", "d"]
    cache.put("e", Person(uuid.uuid4()))  # full of live entries: the oldest ("b") goes
    assert [k for k in ("b", "c", "d", "e") if cache.get(k)] == ["c", "d", "e"]


def test_forgetting_a_person_drops_their_provider_tokens_and_their_users_other_tokens() -> None:
    cache: TokenCache[Person] = TokenCache(5)
    ana, bo = Person(uuid.uuid4()), Person(uuid.uuid4())
    cache.put("ana-id-token", ana, identity=("https://idp", "ana"))
    cache.put("ana-api-token", ana)
    cache.put("bo-api-token", bo)
    cache.forget(("https://idp", "ana"))
    assert [k for k in ("ana-id-token", "ana-api-token", "bo-api-token") if cache.get(k)] == ["bo-api-token"]


def test_a_bound_of_zero_keeps_nothing() -> None:
    cache: TokenCache[Person] = TokenCache(0)
    cache.put("a", Person(uuid.uuid4()))
    assert cache.get("a") is None
