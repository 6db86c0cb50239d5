"""The workbook a finance office files: the dashboard and the list, numbers as numbers in yuan format.

Amounts are written as Decimals (openpyxl stores them as numbers, no float on our side) with a yuan number
format; times in Beijing time (Excel has no time zones, so the header says which).
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from shared.contracts.amounts import from_fen
from shared.contracts.disbursement import STAGE_LABELS
from shared.workdays.calendar import SHANGHAI

YUAN = '"¥"#,##0.00'
HOURS = "0.00"
TIME = "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)
FUND_LABELS = {
    "subsidy": "补贴",
    "rent_subsidy": "房租补贴",
    "renovation_subsidy": "装修补贴",
    "award": "奖励",
    "arrears_repayment": "清欠",
    "refund": "退付",
    "other": "其他",
}


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None) if moment else None


def _row(
    sheet: Worksheet, values: list[Any], formats: dict[int, str] | None = None, bold: bool = False
) -> None:
    sheet.append(values)
    for column, number_format in (formats or {}).items():
        sheet.cell(sheet.max_row, column).number_format = number_format
    if bold:
        for cell in sheet[sheet.max_row]:
            cell.font = BOLD


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _summary(sheet: Worksheet, d: dict[str, Any], bureau_name: str) -> None:
    sheet.title = "汇总"
    sheet.append([f"{bureau_name}资金拨付情况表"])
    sheet["A1"].font = Font(bold=True, size=14)
    period = f"{d['period_from'] or '不限'} 至 {d['period_to'] or '不限'}"
    _row(sheet, ["统计时间（北京时间）", _local(d["as_of"])], {2: TIME})
    _row(sheet, ["到账用时统计区间", period])
    sheet.append([])
    _row(sheet, ["指标", "笔数", "金额（元）"], bold=True)
    _row(sheet, ["拨付资金合计", d["disbursements"], d["allocated"]], {3: YUAN})
    _row(sheet, ["已到账", None, d["credited"]], {3: YUAN})
    _row(sheet, ["未到账", None, d["outstanding"]], {3: YUAN})
    sheet.append([])
    _row(sheet, ["拨付状态", "笔数", "拨付金额（元）", "已到账（元）"], bold=True)
    for figure in d["by_status"]:
        _row(
            sheet,
            [STAGE_LABELS[figure["status"]], figure["count"], figure["allocated"], figure["credited"]],
            {3: YUAN, 4: YUAN},
        )
    sheet.append([])
    tta = d["time_to_account"]
    share = Decimal(tta["share_within_one_workday"]) if tta["share_within_one_workday"] else None
    _row(sheet, ["到账用时（资金到区至全额到账）", "数值"], bold=True)
    _row(sheet, ["全额到账笔数", tta["credited"]])
    _row(sheet, ["中位数（小时）", tta["median_hours"]], {2: HOURS})
    _row(sheet, ["90%分位（小时）", tta["p90_hours"]], {2: HOURS})
    _row(sheet, ["一个工作日内到账笔数", tta["within_one_workday"]])
    _row(sheet, ["一个工作日内到账占比", share], {2: "0.00%"})
    sheet.append([])
    stuck = d["stuck"]
    _row(sheet, [f"滞留（{d['stuck_after_workdays']}个工作日无进展）", "笔数", "未到账（元）"], bold=True)
    _row(sheet, ["滞留拨付", stuck["count"], stuck["outstanding"]], {3: YUAN})
    sheet.append([])
    arrears = d["arrears"]
    _row(sheet, ["拖欠民营企业账款", "笔数", "金额（元）"], bold=True)
    _row(sheet, ["欠款合计", arrears["count"], arrears["owed"]], {3: YUAN})
    _row(sheet, ["已偿还", None, arrears["repaid"]], {3: YUAN})
    _row(sheet, ["尚欠", arrears["open"], arrears["outstanding"]], {3: YUAN})
    _row(sheet, ["逾期未还", arrears["overdue"]["count"], arrears["overdue"]["outstanding"]], {3: YUAN})
    _widths(sheet, [34, 18, 22, 22])


LIST_HEADERS = [
    "拨付编号",
    "企业名称",
    "统一社会信用代码",
    "资金来源",
    "资金类型",
    "拨付金额（元）",
    "已到账（元）",
    "未到账（元）",
    "状态",
    "登记时间（北京时间）",
    "最近进展（北京时间）",
    "到账用时（小时）",
    "关联案件",
]


def _list(sheet: Worksheet, views: list[dict[str, Any]]) -> None:
    sheet.title = "拨付明细"
    _row(sheet, LIST_HEADERS, bold=True)
    for v in views:
        tta = None if v.get("tta_seconds") is None else Decimal(v["tta_seconds"]) / 3600
        _row(
            sheet,
            [
                v["_id"],
                v["enterprise"]["name"],
                v["enterprise"]["credit_code"],
                v["source"],
                FUND_LABELS.get(v["fund_type"], v["fund_type"]),
                from_fen(v["allocated_fen"]),
                from_fen(v["credited_fen"]),
                from_fen(v["outstanding_fen"]),
                STAGE_LABELS.get(v["status"], v["status"]),
                _local(v["opened_at"]),
                _local(v["last_change_at"]),
                None if tta is None else tta.quantize(Decimal("0.01")),
                v.get("case_id"),
            ],
            {6: YUAN, 7: YUAN, 8: YUAN, 10: TIME, 11: TIME, 12: HOURS},
        )
    sheet.freeze_panes = "A2"
    _widths(sheet, [38, 30, 22, 16, 10, 20, 20, 20, 14, 18, 18, 14, 38])
    for cell in sheet[1]:
        cell.alignment = Alignment(horizontal="center")


def workbook(dashboard: dict[str, Any], views: list[dict[str, Any]], bureau_name: str) -> bytes:
    """Return the .xlsx bytes of the dashboard and the list."""
    book = Workbook()
    _summary(book.active, dashboard, bureau_name)
    _list(book.create_sheet(), views)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
