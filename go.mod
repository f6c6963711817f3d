module github.com/tokenwarden/tokenwarden

go 1.26
