"""kiln's training trajectories against TensorFlow's own, stored.

The same program -- a 4 -> 5 -> 3 MLP (tanh, softmax cross-entropy averaged
over the batch) on a fixed batch, float32, every initial value a numpy array
-- trained 20 steps by each TF 1.x optimizer, must give TensorFlow's losses
step by step (rtol 1e-4): the loss before each step and after the last.

TF_LOSSES was produced once with TensorFlow 2.21.0 (tensorflow-cpu, its
tf.compat.v1 graph mode: disable_eager_execution, Graph, Session), numpy
2.4.6, by tests/frontend/tf_reference.py, run in a throwaway virtualenv
outside the repository:

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu numpy
    /tmp/tfenv/bin/python tests/frontend/tf_reference.py

Its output is pasted below; TensorFlow is not a test dependency. `problem()`
is that script's, verbatim.
"""

import numpy as np
import pytest

import kiln as kl

STEPS = 20


def problem():
    """The batch (x, one-hot labels) and the initial weights, float32."""
    rng = np.random.RandomState(0)
    x = rng.randn(8, 4).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[rng.randint(0, 3, size=8)]
    w1 = (0.5 * rng.randn(4, 5)).astype(np.float32)
    b1 = (0.1 * rng.randn(5)).astype(np.float32)
    w2 = (0.5 * rng.randn(5, 3)).astype(np.float32)
    b2 = (0.1 * rng.randn(3)).astype(np.float32)
    return x, labels, (w1, b1, w2, b2)


TF_LOSSES = {
    "sgd": [
        1.4846490621566772,
        1.3929063081741333,
        1.3118302822113037,
        1.240783929824829,
        1.1790878772735596,
        1.125943660736084,
        1.080413579940796,
        1.041471004486084,
        1.0080866813659668,
        0.979306697845459,
        0.954300045967102,
        0.9323713779449463,
        0.9129549264907837,
        0.8955965042114258,
        0.8799340128898621,
        0.8656785488128662,
        0.8525990843772888,
        0.8405100107192993,
        0.8292608261108398,
        0.8187285661697388,
        0.8088123202323914,
    ],
    "momentum": [
        1.4846490621566772,
        1.3929063081741333,
        1.2401995658874512,
        1.0739659070968628,
        0.9421308040618896,
        0.8615759611129761,
        0.8179670572280884,
        0.7922462224960327,
        0.7721928954124451,
        0.7514551877975464,
        0.7267309427261353,
        0.6959813833236694,
        0.657755970954895,
        0.6116665601730347,
        0.5601223707199097,
        0.5098735690116882,
        0.4686904549598694,
        0.4369015693664551,
        0.40647220611572266,
        0.37085098028182983,
        0.33166003227233887,
    ],
    "nesterov": [
        1.4846490621566772,
        1.3155736923217773,
        1.130400538444519,
        0.9792357683181763,
        0.8815336227416992,
        0.8230888843536377,
        0.785182535648346,
        0.7560791969299316,
        0.7294071912765503,
        0.7014855146408081,
        0.6698693037033081,
        0.6329013705253601,
        0.5900177955627441,
        0.5427215099334717,
        0.49541720747947693,
        0.453357994556427,
        0.4175789952278137,
        0.38452205061912537,
        0.3513149619102478,
        0.31826478242874146,
        0.28704822063446045,
    ],
    "adam": [
        1.4846490621566772,
        1.4388976097106934,
        1.39485764503479,
        1.3526215553283691,
        1.3122230768203735,
        1.273707389831543,
        1.2371128797531128,
        1.2024534940719604,
        1.1697207689285278,
        1.1388883590698242,
        1.1099134683609009,
        1.0827372074127197,
        1.0572850704193115,
        1.0334700345993042,
        1.0111970901489258,
        0.9903680086135864,
        0.9708849191665649,
        0.9526523351669312,
        0.9355775117874146,
        0.9195709228515625,
        0.9045467972755432,
    ],
    "rmsprop": [
        1.4846490621566772,
        1.4747564792633057,
        1.4645006656646729,
        1.453879952430725,
        1.442893624305725,
        1.4315428733825684,
        1.4198306798934937,
        1.407761812210083,
        1.3953430652618408,
        1.3825839757919312,
        1.3694956302642822,
        1.356092095375061,
        1.3423895835876465,
        1.3284074068069458,
        1.314166784286499,
        1.299691915512085,
        1.2850092649459839,
        1.2701475620269775,
        1.2551378011703491,
        1.2400124073028564,
        1.2248058319091797,
    ],
    "adagrad": [
        1.4846490621566772,
        1.2729743719100952,
        1.1398396492004395,
        1.0512938499450684,
        0.9894494414329529,
        0.9438460469245911,
        0.9084516763687134,
        0.8797709345817566,
        0.8557065725326538,
        0.8349366188049316,
        0.8165845274925232,
        0.8000407218933105,
        0.7848650217056274,
        0.7707296013832092,
        0.7573857307434082,
        0.744641900062561,
        0.7323505282402039,
        0.7203980684280396,
        0.7086985111236572,
        0.6971876621246338,
        0.6858190298080444,
    ],
    "sgd_decay": [
        1.4846490621566772,
        1.3929063081741333,
        1.3118302822113037,
        1.240783929824829,
        1.1790878772735596,
        1.125943660736084,
        1.102725863456726,
        1.081208348274231,
        1.0612680912017822,
        1.042781949043274,
        1.025629997253418,
        1.0175902843475342,
        1.00983464717865,
        1.002349615097046,
        0.9951228499412537,
        0.9881424903869629,
        0.984755277633667,
        0.9814246296882629,
        0.9781491756439209,
        0.9749278426170349,
        0.9717589616775513,
    ],
}


OPTIMIZERS = {
    "sgd": lambda: kl.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: kl.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda: kl.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda: kl.train.AdamOptimizer(0.01),
    "rmsprop": lambda: kl.train.RMSPropOptimizer(0.01),
    "adagrad": lambda: kl.train.AdagradOptimizer(0.1),
    "sgd_decay": None,  # SGD, exponential_decay(0.1, global_step, 5, 0.5, staircase=True)
}


def test_every_case_has_stored_figures():
    assert set(OPTIMIZERS) == set(TF_LOSSES)
    assert all(len(v) == STEPS + 1 for v in TF_LOSSES.values())


@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_losses_match_tensorflow(case):
    x_np, labels_np, init = problem()
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, (None, 4))
        y = kl.placeholder(kl.float32, (None, 3))
        w1, b1, w2, b2 = (kl.Variable(v) for v in init)
        assert all(v.dtype == kl.float32 for v in (w1, b1, w2, b2))
        h = kl.tanh(kl.matmul(x, w1) + b1)
        logits = kl.matmul(h, w2) + b2
        loss = kl.reduce_mean(kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
        make = OPTIMIZERS[case]
        if make is None:
            global_step = kl.train.get_or_create_global_step()
            lr = kl.train.exponential_decay(0.1, global_step, 5, 0.5, staircase=True)
            train = kl.train.GradientDescentOptimizer(lr).minimize(loss, global_step=global_step)
        else:
            train = make().minimize(loss)
        feed = {x: x_np, y: labels_np}
        losses = []
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            for _ in range(STEPS):
                losses.append(float(sess.run(loss, feed)))
                sess.run(train, feed)
            losses.append(float(sess.run(loss, feed)))
            if make is None:
                assert sess.run(global_step) == STEPS
    np.testing.assert_allclose(
        losses, TF_LOSSES[case], rtol=1e-4, err_msg=f"{case}: kiln's losses are not TensorFlow's"
    )
