"""Stand-in for scikit-image's sample images (a corpus program loads skimage.data.astronaut())."""
