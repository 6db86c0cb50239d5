"""The finance bureau's October, scripted: 14 legacy enterprises assigned, all in resolution, 5 settling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration

ENTERPRISES = [
    "格力电器(郑州)有限公司",
    "北控水务(郑州)有限公司",
    "启明星辰信息技术集团",
    "蓝信科技有限公司",
    "桂科网安科技有限公司",
    "郑州高新投资控股集团",
    "郑州高新建设集团",
    "中原显示技术有限公司",
    "高新区某软件公司",
    "高新区某传感器公司",
    "高新区某生物医药公司",
    "高新区某新材料公司",
    "高新区某装备制造公司",
    "高新区某电子商务公司",
]
SETTLING = ENTERPRISES[:3] + ENTERPRISES[5:7]  # 格力电器, 北控水务, 启明星辰 and two others
LEADERS = [
    ("彭局长", "director"),
    ("书记", "party_secretary"),
    ("副局长甲", "deputy_director"),
    ("副局长乙", "deputy_director"),
    ("副书记", "deputy_secretary"),
]
CHIEFS = [
    (f"{s}科长", "section_chief")
    for s in ("预算", "国库", "采购", "国资", "综合", "金融", "审核", "统计", "会计")
]


@pytest.fixture
async def finance(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    bureau_id = f"fin{uuid.uuid4().hex[:6]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="财政金融局", name_en="Finance"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "october scenario")
    async with httpx.AsyncClient(
        base_url=stack.config.url("gateway"), headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        yield client


async def test_october_figures_are_reproduced_from_the_events(finance: httpx.AsyncClient) -> None:
    for name, post in LEADERS + CHIEFS:
        assert (
            await finance.post("/api/v1/staff", json={"name": name, "post": post, "section": "局机关"})
        ).status_code == 201
    case_ids = {}
    for n, name in enumerate(ENTERPRISES):
        body = case_body(800 + n, channel="legacy_list", legacy=True, category="fiscal_policy")
        body["enterprise"]["name"] = name
        case_ids[name] = (await finance.post("/api/v1/cases", json=body)).json()["case_id"]

    async def all_assigned() -> bool:
        views = [(await finance.get(f"/api/v1/cases/{c}")).json() for c in case_ids.values()]
        return all(v.get("concierge") for v in views)

    await eventually(all_assigned, 60, "14 concierges assigned")
    for name, case_id in case_ids.items():
        clarified = await finance.post(
            f"/api/v1/cases/{case_id}/clarification", json={"summary": "历史遗留问题", "sections": ["预算科"]}
        )
        assert clarified.status_code == 201
        if name in SETTLING:
            resolved = await finance.post(
                f"/api/v1/cases/{case_id}/resolution",
                json={"summary": "初步达成解决意向", "settlement_intent": True},
            )
            assert resolved.status_code == 201

    async def figures() -> dict | None:
        stats = (await finance.get("/api/v1/statistics")).json()
        return (
            stats
            if stats["enterprises_with_settlement_intent"] == 5 and stats["enterprises_in_resolution"] == 14
            else None
        )

    stats = await eventually(figures, 60, "the October figures")
    assert stats["enterprises_assigned"] == 14
    assert stats["cases_total"] == 14 and stats["cases_by_category"] == {"fiscal_policy": 14}
    assert stats["cases_by_status"] == {"in_progress": 9, "resolved": 5}
    assert stats["waiting_enterprises"] == 0
    concierges = (await finance.get("/api/v1/concierges")).json()
    assert len({c["staff_id"] for c in concierges}) == 14  # one enterprise each
    # The five settled enterprises released their concierges for the next ones; nine are still served.
    assert sum(len(c["current_enterprises"]) for c in concierges) == 9
