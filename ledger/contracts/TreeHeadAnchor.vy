# pragma version ^0.4.0
"""
@title maeul tree-head anchor
@notice Stores the roots of the maeul ledger's signed tree heads (RFC 9162). Only the owner (the operator of the
        log) may anchor; sizes only grow, so history on chain cannot be rewritten by the log either.
"""

event Anchored:
    size: indexed(uint256)
    root: bytes32
    anchored_by: indexed(address)

owner: public(address)
latest_size: public(uint256)
roots: public(HashMap[uint256, bytes32])


@deploy
def __init__():
    self.owner = msg.sender


@external
def anchor(size: uint256, root: bytes32):
    assert msg.sender == self.owner, "only the owner may anchor"
    assert size > self.latest_size, "tree size must grow"
    self.roots[size] = root
    self.latest_size = size
    log Anchored(size=size, root=root, anchored_by=msg.sender)


@view
@external
def latest() -> (uint256, bytes32):
    return self.latest_size, self.roots[self.latest_size]
