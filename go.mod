module github.com/featuredag/fdag

go 1.26

require (
	github.com/apache/arrow-go/v18 v18.8.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
