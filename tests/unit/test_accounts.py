import pytest

from kiosk.accounts import AccountError, Accounts
from kiosk.journal import Journal


@pytest.fixture
def accounts(tmp_path, clock):
    journal = Journal(tmp_path / "j.db", clock)
    yield Accounts(journal)
    journal.close()


def test_accounts_check_right_and_wrong_password(accounts):
    accounts.add("wang", "correct horse", "guard")
    assert accounts.check("wang", "correct horse") == "guard"
    assert accounts.check("wang", "wrong horse!") is None
    assert accounts.check("nobody", "correct horse") is None
    assert accounts.check("", "") is None


def test_accounts_store_scrypt_hashes_only(accounts):
    accounts.add("li", "a long password", "maintenance")
    role, hashed = accounts.journal.get_user("li")
    assert role == "maintenance"
    assert hashed.startswith("scrypt:")
    assert "a long password" not in hashed


def test_accounts_refuse_bad_input(accounts):
    with pytest.raises(AccountError):
        accounts.add("bad name", "long enough", "guard")
    with pytest.raises(AccountError):
        accounts.add("ok", "short", "guard")
    with pytest.raises(AccountError):
        accounts.add("ok", "long enough", "king")
    with pytest.raises(AccountError):
        accounts.remove("ghost")
    with pytest.raises(AccountError):
        accounts.passwd("ghost", "long enough")


def test_accounts_passwd_and_remove(accounts):
    accounts.add("zhao", "first password")
    accounts.passwd("zhao", "second password")
    assert accounts.check("zhao", "first password") is None
    assert accounts.check("zhao", "second password") == "guard"
    accounts.remove("zhao")
    assert accounts.list() == []
