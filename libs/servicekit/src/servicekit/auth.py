"""JWT bearer authentication: the account id is the token's ``sub``, which must be an
account id as :data:`contracts.common.AccountId` defines it (else 401).

HS256 with a shared secret (``AUTH_JWT_SECRET``) for local use, RS256 (and ES256) with keys from
a JWKS URL (``AUTH_JWKS_URL``) for a real identity provider. ``exp`` is required; ``aud`` and
``iss`` are checked when configured.

``python -m servicekit.auth mint ACCOUNT [--ttl 3600]`` prints a local HS256 token.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.common import ACCOUNT_ID_MAX, ACCOUNT_ID_PATTERN, is_account_id
from servicekit.errors import ApiError

__all__ = [
    "AccountIdPath",
    "AuthError",
    "CurrentAccount",
    "JwtVerifier",
    "Principal",
    "mint_token",
    "require_account",
]


class AuthError(Exception):
    """The token is missing, malformed, expired, forged, or for another audience."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    account_id: str
    claims: dict[str, Any]


class JwtVerifier:
    """Verifies bearer tokens. Thread-safe; JWKS keys are fetched and cached by PyJWT."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: int = 30,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("a JWT secret or a JWKS URL is required")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_s

    @classmethod
    def from_settings(cls, settings: Any) -> JwtVerifier:
        """Build from :class:`~servicekit.settings.ServiceSettings`."""
        secret = settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None
        return cls(
            secret=secret,
            jwks_url=settings.auth_jwks_url,
            audience=settings.auth_jwt_audience,
            issuer=settings.auth_jwt_issuer,
            leeway_s=settings.auth_leeway_s,
        )

    @property
    def needs_io(self) -> bool:
        """Verification may fetch keys over the network (JWKS): call it off the event loop."""
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        """Verify ``token`` and return its principal.

        Raises:
            AuthError: with a short reason.
        """
        if not token:
            raise AuthError("missing bearer token")
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if self._jwks is not None and alg in ("RS256", "ES256"):
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = [alg]
            elif self._secret is not None and alg == "HS256":
                key, algorithms = self._secret, ["HS256"]
            else:
                raise AuthError(f"token algorithm {alg!r} is not accepted")
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        sub = claims.get("sub")
        if not is_account_id(sub):
            raise AuthError("token 'sub' is not a usable account id (contracts.common.AccountId)")
        return Principal(account_id=sub, claims=claims)

    async def verify_async(self, token: str) -> Principal:
        """:meth:`verify`, off the event loop when it may fetch keys."""
        if self.needs_io:
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)


def mint_token(secret: str, account_id: str, *, ttl_s: int = 3600, **claims: Any) -> str:
    """An HS256 token for ``account_id`` (local use and tests)."""
    now = int(time.time())
    payload = {"sub": account_id, "iat": now, "exp": now + ttl_s, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False)


def get_verifier(request: Request) -> JwtVerifier:
    """The app's verifier (``app.state.jwt_verifier``)."""
    verifier: JwtVerifier = request.app.state.jwt_verifier
    return verifier


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        return await get_verifier(request).verify_async(credentials.credentials)
    except AuthError as exc:
        raise ApiError(
            401,
            "unauthorized",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


async def require_account(principal: Annotated[Principal, Depends(require_principal)]) -> str:
    """FastAPI dependency: the caller's account id (the token's ``sub``)."""
    return principal.account_id


#: Route parameter alias: ``async def route(account: CurrentAccount)``.
CurrentAccount = Annotated[str, Depends(require_account)]

#: An account id in a route path (``/users/{account_id}/follow``): the same rule as
#: :data:`contracts.common.AccountId` (a token's ``sub``); anything else is 422.
AccountIdPath = Annotated[
    str, Path(min_length=1, max_length=ACCOUNT_ID_MAX, pattern=ACCOUNT_ID_PATTERN)
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.auth")
    sub = parser.add_subparsers(dest="cmd", required=True)
    mint = sub.add_parser("mint", help="print an HS256 token signed with AUTH_JWT_SECRET[_FILE]")
    mint.add_argument("account")
    mint.add_argument("--ttl", type=int, default=24 * 3600)
    args = parser.parse_args(argv)
    import os

    from servicekit.settings import read_secret_files

    secret = os.environ.get("AUTH_JWT_SECRET") or read_secret_files(
        os.environ, ["AUTH_JWT_SECRET"]
    ).get("AUTH_JWT_SECRET")
    if not secret:
        sys.stderr.write("invalid setting AUTH_JWT_SECRET: not set (nor AUTH_JWT_SECRET_FILE)\n")
        return 2
    sys.stdout.write(mint_token(secret, args.account, ttl_s=args.ttl) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
