"""The ``records`` service's contracts (personnel decisions and public records: issue 6)."""
