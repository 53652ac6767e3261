package bulkerr

import "errors"

// fieldError marks an Invalid error as being about one field of a request
// body.
type fieldError struct {
	error
	pointer, detail string
}

func (e *fieldError) Unwrap() error { return e.error }

// AtField marks err, an Invalid error, as being about the field of a
// request body at pointer (an RFC 6901 JSON pointer such as "/when/time";
// "" for the body as a whole), with err's message as the field's detail.
// A validator that knows which field its input came from says so this way,
// and the API lists the field in its problem document. Errors of another
// kind, and errors already marked, are returned as they are.
func AtField(pointer string, err error) error {
	if err == nil || KindOf(err) != Invalid {
		return err
	}
	if _, _, ok := FieldOf(err); ok {
		return err
	}
	return &fieldError{error: err, pointer: pointer, detail: Message(err)}
}

// InvalidAt is an Invalid error about the field at pointer (see AtField).
func InvalidAt(pointer, format string, args ...any) error {
	return AtField(pointer, New(Invalid, format, args...))
}

// FieldOf returns the field err was marked with (AtField): its pointer and
// what is wrong with it; ok is false when err names no field.
func FieldOf(err error) (pointer, detail string, ok bool) {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return "", "", false
	}
	return fe.pointer, fe.detail, true
}
