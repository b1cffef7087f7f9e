/* stub: not written yet */
typedef int stub_smtp_addr;
