"""Errors a user can act on. The API turns each into JSON {"detail": message} with its status."""

from __future__ import annotations


class VectrainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(VectrainError):
    status_code = 400


class NotFound(VectrainError):
    status_code = 404


class Conflict(VectrainError):
    status_code = 409


class Forbidden(VectrainError):
    status_code = 403


class EngineLocked(VectrainError):
    """The embedded database path is held by another process (chDB allows one per path)."""

    status_code = 503
