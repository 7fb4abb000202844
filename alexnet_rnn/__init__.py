"""alexnet_rnn assignment package."""
