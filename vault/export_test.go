package vault

// ConversionKey lets tests name what the transcode cache holds for a
// recording, as downloads fill it.
var ConversionKey = conversionKey
