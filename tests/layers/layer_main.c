/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * layer_main.c: the program of the layer link check (tests/CMakeLists.txt).
 * Each check links one layer's library whole (every object in it) against
 * only the layers below it, so a call from that layer into a higher one is
 * an undefined reference and the build fails.
 */
int main(void)
{
    return 0;
}
