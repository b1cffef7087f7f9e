/* stub: not written yet */
typedef int stub_pickup;
