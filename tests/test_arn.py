"""One meaning of "this role", wherever a role is named: choosing among an assertion's roles
and recognising cached credentials alike."""

from __future__ import annotations

import pytest

from jcsaml.arn import role_matches

ARN = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
WITH_PATH = "arn:aws:iam::012345678987:role/ops/AcmeJumpCloudAdminRO"


@pytest.mark.parametrize(
    ("role_arn", "wanted", "expected"),
    [
        (ARN, ARN, True),
        (WITH_PATH, ARN, True),  # the same role: the path is not in every ARN jcsaml sees
        (ARN, WITH_PATH, True),
        (ARN, "AcmeJumpCloudAdminRO", True),
        (WITH_PATH, "AcmeJumpCloudAdminRO", True),
        (WITH_PATH, "ops/AcmeJumpCloudAdminRO", True),
        (ARN, "ops/AcmeJumpCloudAdminRO", False),
        (ARN, "JumpCloudAdminRO", False),  # a name ends at a slash, not anywhere
        (ARN, "AcmeJumpCloudAdmin", False),
        (ARN, "arn:aws:iam::210987654321:role/AcmeJumpCloudAdminRO", False),  # another account
        (ARN, "arn:aws-us-gov:iam::012345678987:role/AcmeJumpCloudAdminRO", False),
        (ARN, "", False),
    ],
)
def test_role_matches(role_arn: str, wanted: str, expected: bool) -> None:
    assert role_matches(role_arn, wanted) is expected
