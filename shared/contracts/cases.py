"""Case vocabulary and the request to open a case, shared by HTTP and Kafka intake."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from shared.contracts.credit_code import CREDIT_CODE_PATTERN, validate_credit_code
from shared.contracts.text import Email, Line100, Line200, Mobile, Text10000


class Category(StrEnum):
    """The eight service scopes (服务范围) of the concierge system."""

    FISCAL_POLICY = "fiscal_policy"  # 财政政策落实
    FUND_DISBURSEMENT = "fund_disbursement"  # 资金拨付
    ENGINEERING_AUDIT = "engineering_audit"  # 工程审核
    GOVERNMENT_PROCUREMENT = "government_procurement"  # 政府采购
    STATE_ASSETS = "state_assets"  # 国资监管
    ACCOUNT_OPENING = "account_opening"  # 账户开设
    FINANCIAL_DISCIPLINE = "financial_discipline"  # 财经纪律
    STATISTICS = "statistics"  # 统计服务


class Channel(StrEnum):
    """How the problem reached the bureau."""

    VISIT = "visit"  # 上门走访
    RECEPTION_DAY = "reception_day"  # 接待日
    HOTLINE = "hotline"  # 热线
    ONLINE = "online"  # 网上
    SURVEY = "survey"  # 调研
    LEGACY_LIST = "legacy_list"  # 遗留问题清单
    OTHER_BUREAU = "other_bureau"  # 其他局转办


class CaseStatus(StrEnum):
    """Lifecycle status of a case as shown by the case projection."""

    OPEN = "open"  # waiting for a concierge
    IN_PROGRESS = "in_progress"  # a concierge serves it
    RESOLVED = "resolved"  # 上菜: resolved, waiting for the enterprise's rating
    CLOSED = "closed"  # rated 3 or better
    REOPENED = "reopened"  # rated 1 or 2: back with the same concierge, flagged for leadership


CreditCode = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=18, max_length=18),
    Field(
        description="18-character unified social credit code (GB 32100-2015): registration authority, "
        "type, 6-digit division code, organisation code and check character",
        json_schema_extra={"pattern": CREDIT_CODE_PATTERN},
    ),
    AfterValidator(validate_credit_code),
]


class Enterprise(BaseModel):
    """The enterprise (企业) that raised the problem."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[Line200, Field(description="Registered name, e.g. 格力电器(郑州)有限公司")]
    credit_code: CreditCode


class EnterpriseContact(BaseModel):
    """The enterprise's contact person: personal data, stored encrypted under the enterprise's own key,
    shown masked, erased with `DELETE /api/v1/contacts/enterprise:<bureau>:<credit code>`."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Line100
    mobile: Mobile | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _reachable(self) -> EnterpriseContact:
        if self.mobile is None and self.email is None:
            raise ValueError(
                "请提供手机号或电子邮箱，或不填联系人 / give a mobile or an email, or leave the contact out"
            )
        return self


class SealedContact(BaseModel):
    """A contact as events carry it: AES-GCM under the subject's key (unreadable once the subject is erased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="enterprise:<bureau>:<credit code>")
    nonce: str
    ciphertext: str


class OpenCaseRequest(BaseModel):
    """Body of `POST /api/v1/cases`: an enterprise's problem to open as a case."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    enterprise: Enterprise
    category: Category
    title: Line200
    description: Text10000
    channel: Channel
    legacy: StrictBool = Field(default=False, description="A legacy problem (遗留问题): true or false only")
    contact: EnterpriseContact | None = Field(
        default=None,
        description="Who the concierge and notices reach at the enterprise (optional; kept encrypted)",
    )
