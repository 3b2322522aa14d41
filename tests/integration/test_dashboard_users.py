"""Dashboard users: passwords, the failed-login throttle, sessions and TOTP, on both stores."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from argon2 import PasswordHasher

from mailwright.auth import Users
from mailwright.errors import Conflict, InvalidInput, LoginThrottled, NotFound
from mailwright.store import Store, schema

PASSWORD = "correct horse battery"
HOUR = 3600.0


class Clock:
    """A clock the test moves by hand, starting at the real time (so pyotp's now() agrees)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(store: Store, clock: Clock) -> Users:
    return Users(store, clock)


async def test_create_list_delete(users: Users) -> None:
    user, secret = await users.create("alice@example.com", PASSWORD)
    assert user.username == "alice@example.com"
    assert user.has_totp
    assert secret is not None
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    plain, none = await users.create("bob", PASSWORD, totp=False)
    assert none is None
    assert not plain.has_totp

    listed = await users.list_users()
    assert [u.username for u in listed] == ["alice@example.com", "bob"]
    assert listed[0] == user

    assert await users.delete("bob")
    assert not await users.delete("bob")
    assert [u.username for u in await users.list_users()] == ["alice@example.com"]


async def test_duplicate_and_bad_input_are_refused(users: Users) -> None:
    await users.create("alice", PASSWORD)
    with pytest.raises(Conflict):
        await users.create("alice", "another password")
    for username in ("", "a" * 65, "has space", "semi;colon", "ünïcode"):
        with pytest.raises(InvalidInput) as caught:
            await users.create(username, PASSWORD)
        assert caught.value.field == "username"
    with pytest.raises(InvalidInput) as caught:
        await users.create("carol", "9 chars!!")
    assert caught.value.field == "password"
    await users.create("a" * 64, "ten chars!")
    assert [u.username for u in await users.list_users()] == ["a" * 64, "alice"]


async def test_password_is_stored_as_an_argon2_hash(users: Users, store: Store) -> None:
    await users.create("alice", PASSWORD)
    async with store.read() as conn:
        row = (await conn.execute(schema.dashboard_users.select())).one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


async def test_check_password(users: Users) -> None:
    user, _ = await users.create("alice", PASSWORD)
    assert await users.check_password("alice", PASSWORD) == user
    assert await users.check_password("alice", PASSWORD + "x") is None
    assert await users.check_password("Alice", PASSWORD) is None
    assert await users.check_password("nobody", PASSWORD) is None
    assert await users.check_password("not valid!", PASSWORD) is None
    assert await users.check_password("alice", "") is None


async def test_set_password(users: Users) -> None:
    await users.create("alice", PASSWORD)
    with pytest.raises(InvalidInput):
        await users.set_password("alice", "short")
    assert await users.set_password("alice", "a new long password")
    assert await users.check_password("alice", PASSWORD) is None
    assert await users.check_password("alice", "a new long password") is not None
    assert not await users.set_password("nobody", "a new long password")


async def test_old_hash_parameters_are_rehashed_on_login(users: Users, store: Store) -> None:
    await users.create("alice", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    table = schema.dashboard_users
    async with store.engine.begin() as conn:
        await conn.execute(table.update().values(password_hash=weak))
    assert await users.check_password("alice", PASSWORD) is not None
    async with store.read() as conn:
        stored = (await conn.execute(table.select())).one().password_hash
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert await users.check_password("alice", PASSWORD) is not None


async def test_five_failures_throttle_the_username(
    users: Users, store: Store, clock: Clock
) -> None:
    await users.create("alice", PASSWORD)
    for _ in range(5):
        assert await users.check_password("alice", "wrong password") is None
    with pytest.raises(LoginThrottled) as caught:
        await users.check_password("alice", PASSWORD)
    assert caught.value.message
    # Another process (a second Users on the same database) sees the same counters.
    with pytest.raises(LoginThrottled):
        await Users(store, clock).check_password("alice", PASSWORD)
    # Unknown usernames are throttled alike, so the throttle does not tell who exists.
    for _ in range(5):
        assert await users.check_password("nobody", PASSWORD) is None
    with pytest.raises(LoginThrottled):
        await users.check_password("nobody", PASSWORD)

    clock.advance(15 * 60)
    assert await users.check_password("alice", PASSWORD) is not None


async def test_success_resets_the_failure_count(users: Users, clock: Clock) -> None:
    await users.create("alice", PASSWORD)
    for _ in range(4):
        assert await users.check_password("alice", "wrong password") is None
    assert await users.check_password("alice", PASSWORD) is not None
    for _ in range(4):
        assert await users.check_password("alice", "wrong password") is None
    assert await users.check_password("alice", PASSWORD) is not None
    # Failures in different windows do not add up to five.
    for _ in range(4):
        assert await users.check_password("alice", "wrong password") is None
    clock.advance(15 * 60)
    for _ in range(4):
        assert await users.check_password("alice", "wrong password") is None
    assert await users.check_password("alice", PASSWORD) is not None


async def test_session_lifecycle(users: Users, clock: Clock) -> None:
    user, _ = await users.create("alice", PASSWORD, totp=False)
    token, session = await users.start_session(user)
    assert len(token) >= 40
    assert session.user == user
    assert session.is_verified
    assert len(session.csrf_token) >= 40
    assert session.expires_at == clock.now + 12 * HOUR

    assert await users.session(token) == session
    assert await users.session(token + "x") is None
    assert await users.session("") is None

    other, other_session = await users.start_session(user)
    assert other != token
    assert other_session.csrf_token != session.csrf_token

    await users.end_session(token)
    assert await users.session(token) is None
    assert await users.session(other) == other_session


async def test_session_only_stores_the_token_hash(users: Users, store: Store) -> None:
    user, _ = await users.create("alice", PASSWORD, totp=False)
    token, _ = await users.start_session(user)
    async with store.read() as conn:
        row = (await conn.execute(schema.dashboard_sessions.select())).one()
    assert token not in row.token_hash
    assert len(row.token_hash) == 64


async def test_session_expires_and_slides(users: Users, store: Store, clock: Clock) -> None:
    user, _ = await users.create("alice", PASSWORD, totp=False)
    token, session = await users.start_session(user)
    clock.advance(5 * HOUR)  # under half used: not extended
    still = await users.session(token)
    assert still is not None
    assert still.expires_at == session.expires_at
    clock.advance(2 * HOUR)  # 7 h of 12 used: extended to a full 12 h from now
    slid = await users.session(token)
    assert slid is not None
    assert slid.expires_at == clock.now + 12 * HOUR
    assert await users.session(token) == slid
    clock.advance(12 * HOUR)
    assert await users.session(token) is None

    # Expired rows are purged when the next session starts.
    fresh, _ = await users.start_session(user)
    async with store.read() as conn:
        rows = (await conn.execute(schema.dashboard_sessions.select())).all()
    assert len(rows) == 1
    assert await users.session(fresh) is not None


async def test_deleting_a_user_or_changing_its_password_ends_its_sessions(
    users: Users,
) -> None:
    user, _ = await users.create("alice", PASSWORD, totp=False)
    token, _ = await users.start_session(user)
    assert await users.set_password("alice", "a new long password")
    assert await users.session(token) is None
    token, _ = await users.start_session(user)
    assert await users.delete("alice")
    assert await users.session(token) is None
    with pytest.raises(NotFound):
        await users.start_session(user)


async def test_totp_right_code_verifies_the_session(users: Users) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    token, session = await users.start_session(user)
    assert not session.is_verified
    unverified = await users.session(token)
    assert unverified is not None
    assert not unverified.is_verified

    assert await users.verify_totp(token, pyotp.TOTP(secret).now())
    verified = await users.session(token)
    assert verified is not None
    assert verified.is_verified
    assert verified.csrf_token == session.csrf_token  # the token and CSRF token are kept


async def test_totp_window_and_format(users: Users, clock: Clock) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    totp = pyotp.TOTP(secret)
    token, _ = await users.start_session(user)
    assert not await users.verify_totp(token, totp.at(clock.now, counter_offset=2))
    assert not await users.verify_totp(token, "abcdef")
    previous = totp.at(clock.now, counter_offset=-1)
    assert await users.verify_totp(token, f"{previous[:3]} {previous[3:]}")


async def test_wrong_totp_code_is_refused(users: Users, clock: Clock) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    token, _ = await users.start_session(user)
    right = pyotp.TOTP(secret).at(clock.now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert not await users.verify_totp(token, wrong)
    session = await users.session(token)
    assert session is not None
    assert not session.is_verified
    assert not await users.verify_totp("unknown-token", right)
    assert await users.verify_totp(token, right)


async def test_totp_replay_is_refused(users: Users, clock: Clock) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    code = pyotp.TOTP(secret).at(clock.now)
    first, _ = await users.start_session(user)
    assert await users.verify_totp(first, code)
    second, _ = await users.start_session(user)
    assert not await users.verify_totp(second, code)
    # Nor an older step still inside the window once a newer one was used.
    clock.advance(30)
    assert await users.verify_totp(second, pyotp.TOTP(secret).at(clock.now))
    third, _ = await users.start_session(user)
    assert not await users.verify_totp(third, code)


async def test_expired_session_accepts_no_code(users: Users, clock: Clock) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    token, _ = await users.start_session(user)
    clock.advance(12 * HOUR)
    assert not await users.verify_totp(token, pyotp.TOTP(secret).at(clock.now))
    assert await users.rotate_session(token) is None


async def test_five_wrong_codes_end_the_session(users: Users, clock: Clock) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    token, _ = await users.start_session(user)
    for _ in range(4):
        assert not await users.verify_totp(token, "000000x")
    assert await users.session(token) is not None
    assert not await users.verify_totp(token, "not a code")
    assert await users.session(token) is None
    assert not await users.verify_totp(token, pyotp.TOTP(secret).at(clock.now))


async def test_user_without_totp_needs_no_code(users: Users) -> None:
    user, _ = await users.create("alice", PASSWORD, totp=False)
    token, session = await users.start_session(user)
    assert session.is_verified
    assert not await users.verify_totp(token, "123456")


async def test_reset_totp(users: Users, clock: Clock) -> None:
    user, old = await users.create("alice", PASSWORD)
    assert old is not None
    token, _ = await users.start_session(user)
    assert await users.verify_totp(token, pyotp.TOTP(old).at(clock.now))

    new = await users.reset_totp("alice")
    assert new != old
    assert await users.session(token) is None  # the old second factor's sessions end
    token, _ = await users.start_session(user)
    assert not await users.verify_totp(token, pyotp.TOTP(old).at(clock.now))
    # A fresh secret starts a fresh replay guard, even in the same time step.
    assert await users.verify_totp(token, pyotp.TOTP(new).at(clock.now))
    with pytest.raises(NotFound):
        await users.reset_totp("nobody")

    plain, _ = await users.create("bob", PASSWORD, totp=False)
    secret = await users.reset_totp("bob")
    assert [u.has_totp for u in await users.list_users()] == [True, True]
    token, session = await users.start_session(plain)  # a snapshot from before the reset
    assert session.user.has_totp
    assert not session.is_verified
    assert await users.verify_totp(token, pyotp.TOTP(secret).at(clock.now))


async def test_rotate_session(users: Users) -> None:
    user, secret = await users.create("alice", PASSWORD)
    assert secret is not None
    token, session = await users.start_session(user)
    assert await users.verify_totp(token, pyotp.TOTP(secret).now())
    rotated = await users.rotate_session(token)
    assert rotated is not None
    new_token, new_session = rotated
    assert await users.session(token) is None
    assert await users.session(new_token) == new_session
    assert new_session.is_verified
    assert new_session.csrf_token != session.csrf_token
    assert await users.rotate_session(token) is None


async def test_provisioning_uri(store: Store) -> None:
    secret = pyotp.random_base32()
    uri = Users(store).provisioning_uri("alice", secret)
    assert uri == f"otpauth://totp/mailwright:alice?secret={secret}&issuer=mailwright"
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == secret
