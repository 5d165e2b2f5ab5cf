"""The block API: ops in a linked list, inserted, moved and erased in O(1)."""

import pytest

from kiln.ir import Block, Builder, KilnError, Module, TensorType

T = TensorType("f32", [4])


def _chain(n: int):
    m = Module()
    f = m.add_function("f", [T], ["x"])
    b = Builder.at_end(f.body)
    v, ops = f.args[0], []
    for _ in range(n):
        v = b.neg(v)
        ops.append(v.op)
    b.ret(v)
    return f, ops


def test_order_len_ends_and_terminator():
    f, ops = _chain(3)
    body = f.body
    assert list(body) == list(body.ops) == [*ops, body.last]
    assert list(reversed(body)) == list(reversed(body.ops)) == [body.last, *reversed(ops)]
    assert len(body) == len(body.ops) == 4
    assert body.first is ops[0] and body.terminator is body.last
    assert body.last.name == "kiln.return"
    assert body.ops[1] is ops[1] and body.ops[-2] is ops[2] and body.ops[:2] == ops[:2]
    assert ops[1] in body.ops and ops[1].next_op is ops[2] and ops[1].prev_op is ops[0]
    assert ops[0].prev_op is None and body.last.next_op is None


def test_insert_before_after_and_builders():
    f, ops = _chain(2)
    body, x = f.body, f.args[0]
    early = Builder.before(ops[0]).abs(x).op
    late = Builder.after(ops[0]).exp(x).op
    assert list(body)[:4] == [early, ops[0], late, ops[1]]
    b = Builder.before(ops[1])
    first, second = b.relu(x).op, b.tanh(x).op
    assert list(body)[3:6] == [first, second, ops[1]]  # in the order the builder made them


def test_erase_detach_reorder():
    f, ops = _chain(3)
    body = f.body
    body.last.set_operand(0, ops[1].result)
    body.erase(ops[2])
    assert ops[2].parent is None and ops[2] not in body.ops and len(body) == 3
    assert ops[1].result.uses == {body.last: 1} and ops[2].result.uses == {}
    with pytest.raises(KilnError, match="still used"):
        body.erase(ops[0])
    body.reorder([ops[0], ops[1], body.last])
    moved = body.detach(ops[1])
    assert moved.parent is None and moved.operands  # keeps its operands to go elsewhere
    other = Block()
    other.append(moved)
    assert list(other) == [moved] and moved.parent is other
    with pytest.raises(KilnError, match="already in a block"):
        body.append(moved)
    with pytest.raises(KilnError, match="permutation"):
        body.reorder([ops[0]])


def test_iteration_survives_erasing_the_visited_op_and_sees_inserted_ones():
    f, ops = _chain(4)
    body, seen = f.body, []
    body.last.set_operand(0, f.args[0])
    for op in body:
        seen.append(op.name)
        if op is ops[0]:
            Builder.after(op).abs(f.args[0])
    assert seen == ["kiln.neg", "kiln.abs", "kiln.neg", "kiln.neg", "kiln.neg", "kiln.return"]
    for op in reversed(list(body)):  # erase the dead chain from its end
        if op.results and not op.result.uses:
            body.erase(op)
    assert [op.name for op in body] == ["kiln.return"]
    with pytest.raises(KilnError, match="not in this block"):
        body.insert_after(ops[0], ops[1])


def test_uses_count_per_user():
    f, _ = _chain(0)
    x = f.args[0]
    op = Builder.before(f.body.last).mul(x, x).op
    assert x.uses == {op: 2, f.body.last: 1}
    op.set_operand(1, op.operands[0])
    f.body.last.set_operand(0, op.result)
    assert x.uses == {op: 2}
    op.drop_operands()
    assert x.uses == {}


def test_no_op_takes_a_linear_scan_per_edit():
    """Editing a long block: each edit must not scan the block (a big n runs fast)."""
    f, ops = _chain(20000)
    body = f.body
    for op in ops[::2]:
        Builder.before(op).abs(f.args[0])
    body.last.set_operand(0, f.args[0])
    for op in reversed(list(body)):
        if op.results and not op.result.uses:
            body.erase(op)
    assert len(body) == 1
