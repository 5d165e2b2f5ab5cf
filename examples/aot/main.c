/* Run the classifier of examples/aot/train.py, compiled by `kiln compile`, from C
   (no Python). docs/aot.md has the whole walk-through; from the repository root:

     python -m kiln.examples.aot.train build/aot/ckpt
     kiln compile build/aot/ckpt/classifier --fetch y --name classifier -o build/aot
     cc -O2 -I build/aot examples/aot/main.c build/aot/classifier.so \
        -Wl,-rpath,$PWD/build/aot -o build/aot/classify

   Input file: the number of rows N, then N rows of two numbers (x1 x2).
   Output: one line per row: the model's output y (the probability of class 1,
   x1 + x2 < 1) and the predicted class (y > 0.5).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "classifier.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s INPUT.txt\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  long long n;
  if (fscanf(f, "%lld", &n) != 1 || n < 0) {
    fprintf(stderr, "%s: expected the number of rows first\n", argv[1]);
    return 1;
  }
  float *x = malloc(sizeof(float) * 2 * (size_t)(n ? n : 1));
  for (long long i = 0; i < 2 * n; i++) {
    if (fscanf(f, "%f", &x[i]) != 1) {
      fprintf(stderr, "%s: expected %lld numbers, got %lld\n", argv[1], 2 * n, i);
      return 1;
    }
  }
  fclose(f);

  int64_t shape[8];
  int rank = classifier_output_shape(0, n, shape);  /* [n, 1] */
  int64_t count = 1;
  for (int a = 0; a < rank; a++) count *= shape[a];
  float *y = malloc(sizeof(float) * (size_t)(count ? count : 1));

  int code = classifier(x, y, n);
  if (code != KILN_OK) {
    fprintf(stderr, "classifier failed (%d): %s\n", code, classifier_error(code));
    return 1;
  }
  for (long long i = 0; i < n; i++) printf("%.9g %d\n", y[i], y[i] > 0.5f);
  free(x);
  free(y);
  return 0;
}
