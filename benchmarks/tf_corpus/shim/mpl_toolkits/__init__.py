"""No-op mpl_toolkits (mplot3d's Axes3D): corpus programs draw 3-D plots; nothing is drawn."""
