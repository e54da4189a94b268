package render

import "github.com/mooringhq/mooring/manifest"

// Object is one rendered object and its source file; see manifest.Object.
type Object = manifest.Object
