"""Personal data: sealed under the subject's own key, erased by destroying it, shown masked."""

from __future__ import annotations

from shared.crypto.masking import mask_address, mask_email, mask_mobile
from shared.crypto.vault import MemoryKeyStore, Vault


async def test_sealed_data_opens_with_the_subjects_key_and_reads_as_erased_once_the_key_is_destroyed():
    vault = Vault(MemoryKeyStore())
    sealed = await vault.seal("enterprise:finance:91440400MA4UJ1XQ1X", {"mobile": "13812341234"})
    assert "13812341234" not in str(sealed)
    assert await vault.open(sealed) == {"mobile": "13812341234"}
    assert await vault.erase("enterprise:finance:91440400MA4UJ1XQ1X")
    assert await vault.open(sealed) is None
    # Given again later, the contact gets a new key; what was sealed before stays erased.
    again = await vault.seal("enterprise:finance:91440400MA4UJ1XQ1X", {"mobile": "13900000000"})
    assert await vault.open(again) == {"mobile": "13900000000"} and await vault.open(sealed) is None


async def test_data_sealed_for_one_subject_cannot_be_passed_off_as_anothers():
    vault = Vault(MemoryKeyStore())
    sealed = await vault.seal("staff:finance:a", {"email": "a@x.cn"})
    await vault.seal("staff:finance:b", {"email": "b@x.cn"})
    assert await vault.open({**sealed, "subject": "staff:finance:b"}) is None


def test_lists_show_mobiles_and_emails_masked():
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_email("zhang.san@gaoxin.gov.cn") == "z***@gaoxin.gov.cn"
    assert mask_address("sms", "13812341234") == "138****1234"
    assert mask_address("inbox", "staff:finance:s-1") == "staff:finance:s-1"
    assert mask_address("wecom", "zhangsan") == "zh***"
