"""Stand-in for scikit-image: sample images (skimage.data.astronaut()), io.imread through
Pillow, transform.resize and util.img_as_float, as corpus programs call them."""
