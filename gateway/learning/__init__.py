"""After day one: train a cheap head on the labels, run it in shadow, promote it on evidence,
watch drift."""
