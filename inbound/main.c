/* stub: not written yet */
int main(void) { return 70; }
