"""How stages and statuses read in Chinese (answers and the workbook)."""

STAGE_LABELS = {
    "opened": "已登记",
    "allocation_received": "资金到区",
    "documents_complete": "材料齐全",
    "approved": "审批通过",
    "coordination": "园区/银行协调",
    "payment_instructed": "支付指令已下达",
    "returned_by_bank": "银行退回",
    "partially_credited": "部分到账",
    "credited": "已到账",
    "on_hold": "暂缓",
    "resumed": "恢复",
    "cancelled": "已撤销",
}
