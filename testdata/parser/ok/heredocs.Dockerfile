FROM busybox
RUN <<EOF
echo "$HOME"
EOF
RUN <<-'SCRIPT' sh -x
	echo literal $HOME
	SCRIPT
RUN cat <<A /dev/stdin 3<<"B" ; cat <&3
first
A
second $X
B
COPY <<conf.ini <<'raw.txt' /etc/
[main]
conf.ini
$raw
raw.txt
RUN ["echo", "<<NOT"]
RUN echo '<<NOT' "<<NOT"
