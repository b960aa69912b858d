"""Write the reference cloudpickle bundle (the Launch quick-start model).

Run with Debian's /usr/bin/python3 (python3-cloudpickle), not another
interpreter: liftoff's workers and the peers unpickle it with that one.

    /usr/bin/python3 bench/peers/make_model.py OUT.pkl
"""
import sys

import cloudpickle


def load_model_fn():
    def my_model(x):
        return x * 2
    return my_model


def load_predict_fn(model):
    def returns_model_of_x_plus_len_of_y(x, y):
        return model(x) + len(y)
    return returns_model_of_x_plus_len_of_y


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(cloudpickle.dumps({"model": load_model_fn(),
                                   "load_predict_fn": load_predict_fn}))
