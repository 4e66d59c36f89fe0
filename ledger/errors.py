from core.errors import InvalidInput, NotFound


class EntryNotFound(NotFound):
    code = "ledger_entry_not_found"


class TreeHeadNotFound(NotFound):
    code = "tree_head_not_found"


class InvalidProofRequest(InvalidInput):
    code = "invalid_proof_request"
