# install-say.sh: say(), sourced by smtpgate's meson install scripts
# (install-config, install-setgid).  It prints one line to the script's
# standard output and, where meson keeps a successful install script's output
# to itself (meson 0.57 to 1.0, Debian 12's included: mesonbuild/meson#11368),
# also to the terminal or pipe meson itself writes to, so the admin sees it
# once.  A meson that passes the output through shares our standard output
# and gets the line once; a log file meson writes to is left alone (appending
# to it behind meson's back could be overwritten).
say() {
	printf '%s\n' "$*"
	mine=$(readlink "/proc/$$/fd/1" 2>/dev/null) || mine=
	theirs=$(readlink "/proc/$PPID/fd/1" 2>/dev/null) || return 0
	[ "$mine" != "$theirs" ] || return 0
	case $theirs in
	pipe:*|/dev/pts/*|/dev/tty*|/dev/console)
		{ printf '%s\n' "$*" >>"/proc/$PPID/fd/1"; } 2>/dev/null || true ;;
	esac
}
